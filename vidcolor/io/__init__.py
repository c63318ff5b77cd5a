"""Sources and sinks: PyAV decoding and probing, ffmpeg encoding, still images."""
from vidcolor.io.animated import AnimatedImageReader, is_animated
from vidcolor.io.images import is_image, list_images_in, read_image, write_image
from vidcolor.io.reader import VideoInfo, VideoReader, list_videos_in, probe
from vidcolor.io.writer import Passthrough, VideoWriter, find_ffmpeg, output_format

__all__ = ["AnimatedImageReader", "Passthrough", "VideoInfo", "VideoReader", "VideoWriter", "find_ffmpeg", "is_animated", "is_image", "list_images_in", "list_videos_in",
           "output_format", "probe",
           "read_image", "write_image"]
