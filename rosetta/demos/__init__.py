"""`rosetta demo <name>`: a model trained in NumPy, PyTorch and TensorFlow side by side,
from the same initial weights and the same batches. One module per demo (found by file,
as the concepts are); runner.py is the one training loop they all use, with the control
run and the drift report; side_by_side.py the command shared by the demos of one
contract train step (mlp, cnn, seq2seq, metric)."""
