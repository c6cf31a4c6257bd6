"""Scale before squaring, as numpy_impl.numerics: a power of two near the values' size,
so that 1e30-sized float32 values give their norm or standard deviation instead of inf,
and ordinary values give bit for bit the plain formula. The scale is a constant to
autograd (detached): any power of two gives the same function."""
import torch


def power_of_two_above(m):
    """2^e > m >= 2^(e-1) (frexp: m = f 2^e, 0.5 <= f < 1); 1 where m is 0."""
    _, e = torch.frexp(m)
    return torch.where(m > 0, torch.ldexp(torch.ones_like(m), e), torch.ones_like(m))


def _dims(z, dim):
    return tuple(range(z.dim())) if dim is None else dim


def scale_of(z, dim=None):
    """A power of two at least max |z| along `dim` (all by default; kept), detached."""
    a = z.detach().abs()
    if a.numel() == 0:  # torch's amax of nothing raises; 1, as numpy's max(initial=0) gives
        reduced = {d % a.dim() for d in ((dim,) if isinstance(dim, int) else _dims(z, dim))}
        return torch.ones([1 if d in reduced else n for d, n in enumerate(a.shape)], dtype=a.dtype, device=a.device)
    return power_of_two_above(a.amax(dim=_dims(z, dim), keepdim=True))


def norm(z, dim=None, keepdim=False):
    """sqrt(sum z^2) as s sqrt(sum (z / s)^2); its gradient at z = 0 is 0, not NaN (sqrt'(0) =
    inf would reach it as inf * 0: the root is taken of 1 there and 0 selected)."""
    s = scale_of(z, dim)
    q = ((z / s) ** 2).sum(dim=_dims(z, dim), keepdim=True)
    positive = q > 0
    out = torch.where(positive, s * torch.sqrt(torch.where(positive, q, torch.ones_like(q))), torch.zeros_like(q))
    return out if keepdim else out.squeeze(_dims(z, dim))


def std(centred, dim, eps):
    """sqrt(mean(centred^2) + eps), keepdim, as s sqrt(mean((centred / s)^2) + eps / s / s)."""
    s = scale_of(centred, dim)
    if eps == 0:
        return s * torch.sqrt(((centred / s) ** 2).mean(dim=dim, keepdim=True))
    # s at least sqrt(eps): for tiny values (1e-25) s^2 would underflow to 0 and eps / s^2 be inf
    s = torch.maximum(s, power_of_two_above(torch.tensor(eps, dtype=centred.dtype, device=centred.device).sqrt()))
    return s * torch.sqrt(((centred / s) ** 2).mean(dim=dim, keepdim=True) + eps / s / s)


def p_norm(z, p, dim=-1):
    """(sum |z|^p)^(1/p) along `dim` as s (sum |z / s|^p)^(1/p): |z|^p overflows first."""
    if p == 2:
        return norm(z, dim)
    s = scale_of(z, dim)
    return (s * ((z / s).abs() ** p).sum(dim=dim, keepdim=True) ** (1 / p)).squeeze(dim)


def hinge_of_squares(margin, d_pos, d_neg):
    """margin + d_pos^2 - d_neg^2, scaled per entry by a power of two k >= both (see
    numpy_impl.numerics): no inf - inf at 1e30 in float32."""
    k = power_of_two_above(torch.maximum(d_pos, d_neg).detach())
    return k * (k * (margin / k / k + (d_pos / k) ** 2 - (d_neg / k) ** 2))


def centred(x, dim):
    """x - mean(x) along `dim`, corrected in a second pass (see numpy_impl.numerics): a
    constant group gives exactly 0."""
    c = x - x.mean(dim=dim, keepdim=True)
    return c - c.mean(dim=dim, keepdim=True)
