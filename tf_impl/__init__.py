"""TensorFlow twins of numpy_impl, written from tf ops; gradients come from GradientTape."""
from shared.lazy import import_tensorflow

import_tensorflow()  # quietly, before any submodule's `import tensorflow`
