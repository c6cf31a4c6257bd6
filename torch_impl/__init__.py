"""PyTorch twins of numpy_impl, written from torch ops; gradients come from autograd."""
