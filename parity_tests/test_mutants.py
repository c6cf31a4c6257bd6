"""The engine has teeth: each mutant in mutants.py is flagged, by the checks we expect."""
import numpy as np
import pytest

import numpy_impl.activations as np_act
import numpy_impl.conv as np_conv
import numpy_impl.layers as np_layers
import numpy_impl.losses as np_losses
import numpy_impl.mlp as np_mlp
from parity_tests import mutants
from parity_tests.conftest import machine_skip
from shared import parity
from shared.backends import Impl
from shared.concepts import get


def _failed_checks(concept, reference_impl, backends=("numpy", "torch", "tf"), dtypes=("float64",)):
    """The check kinds ('forward', 'grad', 'numeric', 'builtin') that failed, per backend."""
    failed = set()
    for backend in backends:
        if machine_skip(backend):
            continue
        for case in concept.cases:
            for dtype in dtypes:
                task = parity.Task(concept, case, backend, dtype, "cpu")
                with np.errstate(over="ignore", invalid="ignore"):  # let the mutant's nan flow
                    records = parity.run_task(task, reference_impl=reference_impl,
                                              impl=reference_impl if backend == "numpy" else None)
                failed |= {(backend, case.name, r.check.split(":")[0]) for r in records if not r.passed}
    return failed


def test_correct_implementations_flag_nothing():
    # the control: the same runs with the real implementations pass
    concept = get("softmax")
    assert _failed_checks(concept, Impl(np_act.softmax, np_act.softmax_backward)) == set()


def test_softmax_without_max_shift_is_flagged_on_the_overflow_case():
    concept = get("softmax")
    failed = _failed_checks(concept, Impl(mutants.softmax_without_max_shift, np_act.softmax_backward))
    # the golden value and scipy's softmax disagree with the nan the mutant returns
    assert ("numpy", "overflow", "forward") in failed
    assert ("numpy", "overflow", "builtin") in failed
    # and the mutant is harmless where nothing overflows: the flag is specific
    assert not {f for f in failed if f[1] == "book-example"}


def test_cross_entropy_divided_by_the_wrong_n_is_flagged():
    concept = get("cross_entropy")
    failed = _failed_checks(concept, Impl(mutants.cross_entropy_divided_by_classes,
                                          np_losses.cross_entropy_backward))
    assert ("numpy", "book-examples", "forward") in failed  # the closed form 0.5108 + 2.3026 over 2
    assert ("numpy", "labels", "numeric") in failed  # the backward no longer matches the forward
    if not machine_skip("torch"):
        assert ("torch", "logits-labels", "forward") in failed


def test_relu_backward_with_inverted_mask_is_flagged():
    concept = get("relu")
    failed = _failed_checks(concept, Impl(np_act.relu, mutants.relu_backward_inverted_mask))
    assert ("numpy", "random", "numeric") in failed  # finite differences disagree
    assert ("numpy", "at-zero", "grad") in failed  # the golden gradient convention
    if not machine_skip("torch"):
        assert ("torch", "random", "grad") in failed  # autograd disagrees


@pytest.mark.parametrize("backend", ["torch", "tf"])
def test_a_framework_mutant_is_flagged_against_the_numpy_reference(backend):
    if machine_skip(backend):
        pytest.skip(f"{backend} not installed")
    concept = get("softmax")
    case = concept.case("batch")
    # a framework port that forgets the axis and normalises over everything
    records = parity.run_task(parity.Task(concept, case, backend, "float32", "cpu"),
                              impl=Impl(lambda x, axis=-1: _normalise_all(backend, x)))
    assert {r.check for r in records if not r.passed} >= {"forward", "grad:x"}


def _normalise_all(backend, x):
    if backend == "torch":
        import torch
        e = torch.exp(x - x.max())
        return e / e.sum()
    import tensorflow as tf
    e = tf.exp(x - tf.reduce_max(x))
    return e / tf.reduce_sum(e)


def test_adam_without_bias_correction_is_flagged():
    concept = get("adam_step")
    failed = _failed_checks(concept, Impl(mutants.adam_without_bias_correction))
    assert ("numpy", "first-step-default", "forward") in failed  # the closed form p - lr g / (|g| + eps)
    if not machine_skip("torch"):
        assert ("torch", "mid-run-default", "forward") in failed  # torch_impl vs the mutant reference
        assert ("torch", "mid-run-default", "builtin") in failed  # torch.optim.Adam vs the mutant reference
    if not machine_skip("tf"):
        assert ("tf", "first-step-default", "builtin") in failed  # keras.optimizers.Adam


def test_nesterov_as_plain_momentum_is_flagged():
    concept = get("nesterov_step")
    failed = _failed_checks(concept, Impl(mutants.nesterov_as_plain_momentum))
    assert ("numpy", "first-step-default", "forward") in failed  # p + momentum^2 v - (1 + momentum) lr g
    if not machine_skip("torch"):
        assert ("torch", "first-step-default", "builtin") in failed  # torch.optim.SGD(nesterov=True)


def test_batch_norm_with_running_stats_in_training_is_flagged():
    concept = get("batch_norm")
    failed = _failed_checks(concept, Impl(mutants.batch_norm_with_running_stats_in_training,
                                          np_layers.batch_norm_backward))
    assert ("numpy", "two-values", "forward") in failed  # the closed form from the batch's mean and variance
    assert ("numpy", "train-2d", "numeric") in failed  # the hand-written backward assumes batch statistics
    assert not {f for f in failed if "inference" in f[1]}, "inference mode is unaffected"
    if not machine_skip("torch"):
        assert ("torch", "train-2d", "builtin") in failed  # F.batch_norm(training=True)


def test_batch_norm_mutant_inside_the_network_is_flagged_by_the_train_step(monkeypatch):
    if machine_skip("torch"):
        pytest.skip("torch not installed")
    concept = get("mlp_train_step")
    case = concept.case("sgd")
    monkeypatch.setattr(np_mlp, "batch_norm", mutants.batch_norm_with_running_stats_in_training)
    records = parity.run_task(parity.Task(concept, case, "torch", "float64", "cpu"))
    failed = {r.check for r in records if not r.passed}
    assert {"loss@1", "grad:W1", "param@10:W1"} <= failed


def test_im2col_with_the_wrong_stride_is_flagged():
    concept = get("im2col")
    failed = _failed_checks(concept, Impl(mutants.im2col_ignoring_the_column_stride, np_conv.im2col_backward))
    assert ("numpy", "stride2-overlap", "numeric") in failed  # its backward (the true col2im) disagrees
    assert not {f for f in failed if f[1] in ("book-4x4", "pad1-stride1", "dilation2")}, "stride 1: harmless"
    if not machine_skip("torch"):
        assert ("torch", "stride2-overlap", "forward") in failed
        assert ("torch", "same-stride2-asymmetric", "builtin") in failed  # F.unfold
    if not machine_skip("tf"):
        assert ("tf", "channels-last", "builtin") in failed  # tf.image.extract_patches, stride (1, 2)


def test_col2im_that_overwrites_overlaps_is_flagged():
    concept = get("col2im")
    failed = _failed_checks(concept, Impl(mutants.col2im_overwriting_overlaps, np_conv.col2im_backward))
    assert ("numpy", "ones-4x4", "forward") in failed  # the golden window counts 1, 2, 2, 1
    assert ("numpy", "pad1-overlap", "numeric") in failed
    assert not {f for f in failed if f[1] == "stride-larger-than-kernel"}, "no overlap: harmless"
    if not machine_skip("torch"):
        assert ("torch", "pad1-overlap", "forward") in failed
        assert ("torch", "stride2", "builtin") in failed  # F.fold
