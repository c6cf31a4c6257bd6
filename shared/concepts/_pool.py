"""Oracles the two pooling specs share."""
from shared import layouts, lazy
from shared.concepts import _conv


def pads(concept, x, kernel, stride, padding):
    return _conv.validate_pool(concept, x, kernel, stride=stride, padding=padding).pads


def symmetric(case):
    padding = case.kwargs.get("padding", 0)
    return not isinstance(padding, str) and not (isinstance(padding, tuple) and len(padding) == 4)


def tf_padding(concept, x, kernel, stride, padding):
    if isinstance(padding, str):
        return padding.upper()
    return _conv.tf_pads(pads(concept, x, kernel, stride, padding))


def keras_layer(cls, x, kernel, stride, padding):
    keras = lazy.keras()
    layer = getattr(keras.layers, cls)(kernel, strides=stride, padding=padding, dtype=x.dtype.name)
    return layouts.nhwc_to_nchw(layer(layouts.nchw_to_nhwc(x)))
