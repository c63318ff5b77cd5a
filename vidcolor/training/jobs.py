"""Training jobs by name: ``vidcolor train JOB RECIPE`` looks up the recipe class and the loop here."""
from vidcolor.training.colorize import ColorizeRecipe, train_colorize
from vidcolor.training.exemplar import ExemplarRecipe, train_exemplar
from vidcolor.training.loop import DequantizeRecipe, train_dequantize

JOBS = {"dequantize": (DequantizeRecipe, train_dequantize), "colorize": (ColorizeRecipe, train_colorize),
        "exemplar": (ExemplarRecipe, train_exemplar)}
"""Job name -> (recipe dataclass with ``from_toml``, training function ``(recipe, out_dir, resume, progress)``)."""
