"""The engine has teeth: each mutant in mutants.py is flagged, by the checks we expect."""
import numpy as np
import pytest

import numpy_impl.activations as np_act
import numpy_impl.conv as np_conv
import numpy_impl.layers as np_layers
import numpy_impl.losses as np_losses
import numpy_impl.mlp as np_mlp
import numpy_impl.seq2seq as np_seq2seq
from parity_tests import mutants
from parity_tests.conftest import machine_skip, needs, param
from shared import parity
from shared.backends import Impl
from shared.concepts import get
from shared.concepts.seq2seq_train_step import make_batch
from shared.data import addition


def _failed_checks(concept, reference_impl, backends=("numpy", "torch", "tf"), dtypes=("float64",), cases=None):
    """The check kinds ('forward', 'grad', 'numeric', 'builtin'; a train step's 'loss@1',
    'param@10', ...) that failed, per backend and case; `cases` names the cases to run (all by default)."""
    failed = set()
    for backend in backends:
        if machine_skip(backend):
            continue
        for case in concept.cases:
            if cases is not None and case.name not in cases:
                continue
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


@pytest.mark.parametrize("backend", [param(b, id=b, backend=b) for b in ["torch", "tf"]])
def test_a_framework_mutant_is_flagged_against_the_numpy_reference(backend):
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


@needs("torch")
def test_batch_norm_mutant_inside_the_network_is_flagged_by_the_train_step(monkeypatch):
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


def test_lstm_with_two_gates_swapped_is_flagged_by_the_references_not_by_finite_differences():
    concept = get("lstm")
    failed = _failed_checks(concept, Impl(mutants.lstm_with_input_and_forget_gates_swapped,
                                          mutants.lstm_backward_with_input_and_forget_gates_swapped),
                            backends=("numpy", "torch"), cases=("small", "saturated"))
    assert ("numpy", "small", "forward") in failed  # the golden loop slices (i, f, g, o) one scalar at a time
    # the mutant's backward differentiates the mutant's own forward: a self-consistent wrong
    # model, which central differences confirm. A gradient check alone passes it; only an
    # independent reference of the forward itself can catch it
    assert not {f for f in failed if f[2] == "numeric"}
    if not machine_skip("torch"):
        for case in ("small", "saturated"):
            assert ("torch", case, "builtin") in failed  # nn.LSTM
            assert ("torch", case, "forward") in failed  # torch_impl.rnn.lstm
            assert ("torch", case, "grad") in failed


@needs("torch")
def test_seq2seq_decoder_fed_its_targets_is_flagged():
    concept = get("seq2seq_train_step")
    # torch only: on NumPy the engine's numeric check differentiates the module's honest
    # loss() and so would flag the mutant's gradients too, but at thousands of loss calls
    failed = _failed_checks(concept, Impl(mutants.seq2seq_train_step_decoder_fed_its_targets),
                            backends=("torch",), cases=("lstm-teacher-forcing",))
    case = "lstm-teacher-forcing"
    assert {("torch", case, "loss@1"), ("torch", case, "grad"), ("torch", case, "param@10")} <= failed


def test_a_decoder_fed_its_targets_learns_to_copy_them_and_fails_at_inference():
    # why the slip matters, in NumPy alone (~1 s): its training loss collapses, which looks
    # like success, and the model it leaves behind predicts worse than the honest one as soon
    # as it must feed itself, as inference does (no coin: free running)
    inputs = get("seq2seq_train_step").case("lstm-teacher-forcing").inputs()
    data = addition(count=2000, seed=0)
    rng = np.random.default_rng(0)
    batches = [make_batch(rng, data.x_train, data.y_train, 32) for _ in range(50)]
    no_coins = np.zeros((len(data.y_test), data.y_test.shape[1] - 1), bool)
    inference = {"x": data.x_test, "y": data.y_test, "coins": no_coins}
    train_loss, inference_loss = {}, {}
    for name, train_step in (("honest", np_seq2seq.train_step),
                             ("leaked", mutants.seq2seq_train_step_decoder_fed_its_targets)):
        params, opt_state, losses = inputs["params"], inputs["opt_state"], []
        for batch in batches:
            loss, _, params, opt_state = train_step(params, opt_state, batch, inputs["hyper"])
            losses.append(loss)
        train_loss[name] = np.mean(losses[-10:])
        inference_loss[name] = np_seq2seq.loss(params, inference, inputs["hyper"])
    assert train_loss["leaked"] < 0.5 * train_loss["honest"], train_loss
    assert inference_loss["leaked"] > inference_loss["honest"], inference_loss


def _failed_records(concept, impl, backend, cases):
    """(case, check) of every failed record, the mutant as the reference (and as numpy's impl)."""
    failed = set()
    for case in cases:
        task = parity.Task(concept, concept.case(case), backend, "float64", "cpu")
        records = parity.run_task(task, reference_impl=impl, impl=impl if backend == "numpy" else None)
        failed |= {(case, r.check) for r in records if not r.passed}
    return failed


def test_hard_mining_that_picks_the_easiest_negative_is_flagged_by_the_triplets_it_mines():
    concept = get("triplet_mining")
    mutant = Impl(mutants.batch_hard_mining_the_easiest_negative)
    cases = ["batch_hard-four-classes", "batch_hard-euclidean", "batch_hard-one-label"]
    # the plain-Python loop that mines every (a, p, n) disagrees on the triplets and the loss
    failed = _failed_records(concept, mutant, "numpy", cases)
    assert {("batch_hard-four-classes", "forward:triplets"), ("batch_hard-four-classes", "forward:loss"),
            ("batch_hard-euclidean", "forward:triplets")} <= failed
    # with one label there is no negative to pick: nothing to get wrong, nothing flagged
    assert not {f for f in failed if f[0] == "batch_hard-one-label"}
    # and the other strategies, which the mutant leaves alone, pass
    assert not _failed_records(concept, mutant, "numpy", ["batch_all-four-classes", "semi_hard-four-classes"])
    if not machine_skip("torch"):
        assert ("batch_hard-four-classes", "forward:triplets") in _failed_records(concept, mutant, "torch", cases)


def test_triplet_loss_with_the_margin_of_the_wrong_sign_is_flagged():
    from numpy_impl import metric
    concept = get("triplet_loss")
    mutant = Impl(mutants.triplet_loss_with_the_margin_subtracted, metric.triplet_loss_backward)
    failed = _failed_records(concept, mutant, "numpy", ["default", "margin-2-sum"])
    # the plain-Python golden disagrees; so do central differences, the mutant's forward
    # no longer matching the (correct) backward it is paired with
    assert {("default", "forward"), ("margin-2-sum", "forward"), ("default", "numeric:a")} <= failed
    if not machine_skip("torch"):
        # torch_impl, and torch's own F.triplet_margin_loss, against the mutant reference
        assert {("default", "forward"), ("default", "builtin:F.triplet_margin_loss")} <= _failed_records(
            concept, mutant, "torch", ["default"])


def _gan_failed_checks(mutant):
    """The torch mutant as the implementation, against the golden NumPy gan.train_step, in
    float64 on one case; the correct torch_impl passes every check of this run (the control)."""
    concept = get("gan_train_step")
    task = parity.Task(concept, concept.case("non-saturating-adam"), "torch", "float64", "cpu")
    return {r.check for r in parity.run_task(task, impl=Impl(mutant)) if not r.passed}


@pytest.mark.skipif(machine_skip("torch"), reason="torch not installed")
def test_gan_generator_step_that_also_moves_the_discriminator_is_flagged():
    failed = _gan_failed_checks(mutants.gan_step_whose_generator_update_also_moves_the_discriminator)
    # D's second Adam step: its parameters and its optimizer's step count (t = 2 after one step)
    assert {"param@1:D.W_c1", "param@1:D.W_fc", "param@1:D.b_fc", "state@1:D.W_fc.t", "state@1:D.W_fc.m"} <= failed
    assert {"loss@10:D", "loss@10:G", "param@10:G.W_t1"} <= failed  # then the whole run drifts
    # the gradients it reports, the step-1 losses and G's first update are the honest ones:
    # only the parameters the engine records after the step can see the slip
    assert not {c for c in failed if c.startswith(("grad:", "loss@1:", "param@1:G.", "state@1:G."))}


@pytest.mark.skipif(machine_skip("torch"), reason="torch not installed")
def test_gan_fake_labels_flipped_in_the_discriminator_loss_is_flagged():
    failed = _gan_failed_checks(mutants.gan_step_with_the_fake_labels_flipped)
    assert {"loss@1:D", "grad:D.W_c1", "grad:D.b_fc", "param@1:D.W_fc"} <= failed
    # G's loss and gradients are scored by the (wrongly) updated D
    assert {"loss@1:G", "grad:G.W_fc", "grad:G.gamma1", "param@10:G.W_t2"} <= failed


@pytest.mark.skipif(machine_skip("torch"), reason="torch not installed")
def test_gan_generator_batch_norm_in_inference_mode_is_flagged():
    failed = _gan_failed_checks(mutants.gan_step_with_the_generator_batch_norm_in_inference_mode)
    # other fakes: both losses and every gradient of step 1
    assert {"loss@1:G", "loss@1:D", "grad:G.gamma1", "grad:G.beta1", "grad:G.W_t1", "grad:D.W_c1"} <= failed
    assert {"param@1:G.W_fc", "param@10:G.gamma1"} <= failed


@pytest.mark.skipif(machine_skip("torch"), reason="torch not installed")
def test_gan_mutant_control_the_real_torch_step_flags_nothing():
    from torch_impl import gan
    assert _gan_failed_checks(gan.train_step) == set()
