"""Training and data generation; imports from the runtime package, never imported by it."""


def __getattr__(name: str):
    if name == "JOBS":  # lazy: importing the loops pulls torch and the training data code
        from vidcolor.training.colorize import ColorizeRecipe, train_colorize
        from vidcolor.training.loop import DequantizeRecipe, train_dequantize

        return {"dequantize": (DequantizeRecipe, train_dequantize), "colorize": (ColorizeRecipe, train_colorize)}
    raise AttributeError(name)
