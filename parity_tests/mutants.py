"""Deliberately broken implementations. Each is one plausible slip; the parity engine must
flag every one of them (test_mutants.py). Read them to see what the checks catch."""
import numpy as np


def softmax_without_max_shift(x, *, axis=-1):
    # forgets softmax(x) = softmax(x - max): exp(1010) overflows to inf, inf / inf = nan
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def cross_entropy_divided_by_classes(y, t, *, from_logits=False, axis=-1, reduction="mean", log_guard=1e-7,
                                     label_smoothing=0.0):
    # divides the summed loss by the number of classes instead of the batch size
    from numpy_impl.losses import cross_entropy
    total = cross_entropy(y, t, from_logits=from_logits, axis=axis, reduction="sum", log_guard=log_guard,
                          label_smoothing=label_smoothing)
    return total / y.shape[axis] if reduction == "mean" else total


def relu_backward_inverted_mask(dy, x):
    # the mask selects the wrong side: gradient flows where x <= 0 instead of x > 0
    dx = dy.copy()
    dx[x > 0] = 0
    return dx


def adam_without_bias_correction(param, grad, state, *, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8,
                                 weight_decay=0.0):
    # forgets to divide m and v by (1 - beta^t): early steps are ~sqrt(1 - beta2)/(1 - beta1)
    # = 0.32x too small, because m and v start at 0
    grad = grad + weight_decay * param
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * grad * grad
    return param - lr * m / (np.sqrt(v) + eps), {"m": m, "v": v, "t": state["t"] + 1}


def nesterov_as_plain_momentum(param, grad, state, *, lr=0.01, momentum=0.9):
    # steps along the velocity alone: no look-ahead, so this is the plain Momentum method
    v = momentum * state["v"] - lr * grad
    return param + v, {"v": v}


def batch_norm_with_running_stats_in_training(x, gamma, beta, running_mean, running_var, *, training,
                                              eps=10e-7):
    # normalises with the running statistics even in training mode (as if .eval() had
    # been left on): the batch is no longer normalised and the statistics' gradient vanishes
    from numpy_impl.layers import batch_norm
    return batch_norm(x, gamma, beta, running_mean, running_var, training=False, eps=eps)


def im2col_ignoring_the_column_stride(x, kernel, *, stride=1, padding=0, dilation=1, pad_value=0.0,
                                      channels_last=False):
    # steps the windows down by the stride but across by 1: the matrix keeps its shape
    # (OW windows per row), so nothing crashes; the windows are simply the wrong ones
    from numpy_impl import conv
    from shared.concepts import _conv
    g = _conv.validate_im2col("im2col", x, kernel, stride=stride, padding=padding, dilation=dilation)
    windows = conv._windows(conv._padded_nhwc(x, g.pads, pad_value), g._replace(stride=(g.stride[0], 1)))
    windows = windows[:, :, :g.out[1]]
    if channels_last:
        windows = windows.transpose(0, 1, 2, 4, 5, 3)
    return windows.reshape(x.shape[0] * g.out[0] * g.out[1], -1)


def col2im_overwriting_overlaps(col, x_shape, kernel, *, stride=1, padding=0, dilation=1, channels_last=False):
    # writes each window back with = instead of +=: where windows overlap, the last one wins
    from shared.concepts import _conv
    g = _conv.validate_col2im("col2im", col, x_shape, kernel, stride=stride, padding=padding, dilation=dilation)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel, g.stride, g.dilation, g.out
    top, bottom, left, right = g.pads
    order = (n, oh, ow, kh, kw, c) if channels_last else (n, oh, ow, c, kh, kw)
    taps = col.reshape(order).transpose((3, 4, 0, 1, 2, 5) if channels_last else (4, 5, 0, 1, 2, 3))
    xp = np.zeros((n, h + top + bottom, w + left + right, c))
    for p in range(kh):
        for q in range(kw):
            xp[:, p * dh:p * dh + sh * (oh - 1) + 1:sh, q * dw:q * dw + sw * (ow - 1) + 1:sw] = taps[p, q]
    return xp[:, top:top + h, left:left + w].transpose(0, 3, 1, 2)


def _swap_input_and_forget_blocks(w):
    # a swap is its own inverse: the same function maps the weights in and the gradients back
    i, f, g, o = np.split(w, 4, axis=-1)
    return np.concatenate([f, i, g, o], axis=-1)


def lstm_with_input_and_forget_gates_swapped(x, h0, c0, Wx, Wh, b):
    # reads the input gate from the forget gate's block and the reverse, as a port does that
    # half-converts between the book's (f, g, i, o) slicing and torch's (i, f, g, o): the
    # shapes all fit and the layer still trains, so nothing but a reference notices
    from numpy_impl.rnn import lstm
    return lstm(x, h0, c0, *map(_swap_input_and_forget_blocks, (Wx, Wh, b)))


def lstm_backward_with_input_and_forget_gates_swapped(dy, x, h0, c0, Wx, Wh, b):
    # the backward of the SAME wrong model: forward and backward agree with each other, so
    # finite differences of this forward confirm this backward, and only an independent
    # reference (the golden loop, nn.LSTM, the other packages) can see the swap
    from numpy_impl.rnn import lstm_backward
    dx, dh0, dc0, *dweights = lstm_backward(dy, x, h0, c0, *map(_swap_input_and_forget_blocks, (Wx, Wh, b)))
    return (dx, dh0, dc0, *map(_swap_input_and_forget_blocks, dweights))


def seq2seq_train_step_decoder_fed_its_targets(params, opt_state, batch, hyper):
    # slices the decoder's inputs y[:, 1:], the targets' slice, instead of y[:, :-1]: with
    # teacher forcing, step t reads the very token it must predict. Training learns to copy
    # its input and the loss collapses, yet at inference no such token exists. Everything
    # else is the real step: the real gradients() slices y itself, so its `forward` is
    # swapped for one that ignores the decoder inputs it is given and takes the shifted ones
    from unittest import mock

    from numpy_impl import seq2seq
    forward = seq2seq._forward

    def fed_the_targets(params, x, y_in, coins, cell):
        return forward(params, x, batch["y"][:, 1:], coins, cell)

    with mock.patch.object(seq2seq, "_forward", fed_the_targets):
        return seq2seq.train_step(params, opt_state, batch, hyper)


def batch_hard_mining_the_easiest_negative(embeddings, labels, *, strategy="batch_all", margin=1.0,
                                           distance="squared", average="positive", soft=False):
    # "hard" mining that takes the argmax of d(a, n) where it needs the argmin: every anchor
    # gets its FARTHEST negative, whose hinge is almost always 0. Nothing crashes and the loss
    # looks good (small), but the net is shown only the triplets it already gets right
    from numpy_impl import mining
    if strategy != "batch_hard":
        return mining.triplet_mining(embeddings, labels, strategy=strategy, margin=margin, distance=distance,
                                     average=average, soft=soft)
    D, s = mining.scaled_distances(embeddings, distance)
    positive, negative = mining._masks(labels)
    anchors = np.flatnonzero(positive.any(axis=1) & negative.any(axis=1))
    hardest_p = mining._lowest_argmax(D, positive)[anchors]
    easiest_n = mining._lowest_argmax(D, negative)[anchors]
    triplets = np.stack([anchors, hardest_p, easiest_n], axis=1).astype(np.int64)
    terms, _ = mining._terms(D, s, distance, triplets, margin, soft)
    return np.asarray(mining._mean(terms), dtype=embeddings.dtype), triplets


def triplet_loss_with_the_margin_subtracted(a, p, n, *, margin=1.0, p_norm=2, eps=1e-6, swap=False, squared=False,
                                            reduction="mean"):
    # max(0, d(a,p) - d(a,n) - m) where FaceNet has + m: the margin's sign flipped, so a
    # triplet counts as learned while its negative is still up to m CLOSER than the positive
    from numpy_impl import metric
    hinge, _, _ = metric._triplet_parts(a, p, n, -margin, p_norm, eps, swap, squared)
    return metric._reduce(np.maximum(hinge, 0), reduction)


def _torch_gan_step(params, opt_state, batch, hyper, *, fake_label=0.0, g_step_moves_d=False, generator=None):
    # torch_impl.gan.train_step written out once more, with one knob per GAN slip below
    import torch

    from torch_impl import gan, optimizers
    generator = generator or gan.generator
    G, D = gan._leaves(params["G"]), gan._leaves(params["D"])
    slope, opt = hyper["negative_slope"], (hyper["optimizer"], hyper["opt"])
    fake = generator(batch["z"], **G, bn_eps=hyper["bn_eps"])
    d_loss = (gan._bce(gan.discriminator(batch["x"], **D, negative_slope=slope), 1.0)
              + gan._bce(gan.discriminator(fake.detach(), **D, negative_slope=slope), fake_label))
    grads_D = dict(zip(D, torch.autograd.grad(d_loss, list(D.values()))))
    new_D, state_D = optimizers.step_all(params["D"], grads_D, opt_state["D"], *opt)
    D1 = gan._leaves(new_D) if g_step_moves_d else new_D
    g_loss = gan._generator_loss(gan.discriminator(fake, **D1, negative_slope=slope), hyper["g_loss"])
    wrt = list(G.values()) + (list(D1.values()) if g_step_moves_d else [])
    g_grads = torch.autograd.grad(g_loss, wrt)
    grads_G = dict(zip(G, g_grads[:len(G)]))
    new_G, state_G = optimizers.step_all(params["G"], grads_G, opt_state["G"], *opt)
    if g_step_moves_d:
        new_D, state_D = optimizers.step_all(new_D, dict(zip(D1, g_grads[len(G):])), state_D, *opt)
    return ({"D": d_loss.detach(), "G": g_loss.detach()}, {"G": grads_G, "D": grads_D},
            {"G": new_G, "D": new_D}, {"G": state_G, "D": state_D})


def gan_step_whose_generator_update_also_moves_the_discriminator(params, opt_state, batch, hyper):
    # errG.backward() fills netD's .grad as well (D' is on the path from G to the loss), and
    # a stray optimizerD.step() after it, or one optimizer built over both nets' parameters,
    # applies them: D takes a second Adam step, DOWN the generator's loss, i.e. towards
    # calling the fakes real. The reported gradients are still the honest ones
    return _torch_gan_step(params, opt_state, batch, hyper, g_step_moves_d=True)


def gan_step_with_the_fake_labels_flipped(params, opt_state, batch, hyper):
    # criterion(netD(fake.detach()), label) with the label still filled with real_label from
    # the line before: D is taught to call its fakes real, BCE(1, D(fake)) where BCE(0, .) belongs
    return _torch_gan_step(params, opt_state, batch, hyper, fake_label=1.0)


def _generator_with_inference_batch_norm(z, W_fc, b_fc, W_t1, gamma1, beta1, W_t2, b_t2, *, bn_eps):
    import torch
    import torch.nn.functional as F

    from torch_impl import gan
    h0 = (z @ W_fc + b_fc).unflatten(1, (W_t1.shape[0], gan.spec.BASE, gan.spec.BASE))
    t1 = F.conv_transpose2d(h0, W_t1, **gan._UP)
    c2 = W_t1.shape[1]
    # netG.eval() left on: the running statistics (fresh, mean 0 and variance 1) normalise
    # instead of the batch's, so the batch norm is the affine gamma * t1 / sqrt(1 + eps) + beta
    running_mean, running_var = torch.zeros(c2, dtype=t1.dtype), torch.ones(c2, dtype=t1.dtype)
    bn = F.batch_norm(t1, running_mean, running_var, gamma1, beta1, training=False, eps=bn_eps)
    return torch.tanh(F.conv_transpose2d(F.relu(bn), W_t2, b_t2, **gan._UP))


def gan_step_with_the_generator_batch_norm_in_inference_mode(params, opt_state, batch, hyper):
    # the generator in eval mode during training (netG.eval() for a sample grid, never undone)
    return _torch_gan_step(params, opt_state, batch, hyper, generator=_generator_with_inference_batch_norm)
