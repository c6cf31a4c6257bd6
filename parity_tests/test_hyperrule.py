"""The BiT-HyperRule against the values the reference code (google-research/big_transfer,
bit_hyperrule.py) gives, worked out by hand from its rule for the datasets the BiT paper
fine-tunes on."""
import pytest

from shared.hyperrule import hyper_rule, learning_rate, resolution, size_class


@pytest.mark.parametrize("image_size, dataset_size, expected", [
    # CIFAR-10: 32 x 32 images, 50,000 training examples -> medium, mixup
    ((32, 32), 50_000, (160, 128, 0.1, (500, 3000, 6000, 9000, 10_000))),
    # Oxford-IIIT Pet: 224 x 224 (as the reference lists it), 3,680 examples -> small, no mixup
    ((224, 224), 3_680, (512, 480, 0.0, (100, 200, 300, 400, 500))),
    # ImageNet: 1.28M examples -> large
    ((224, 224), 1_281_167, (512, 480, 0.1, (500, 6000, 12_000, 18_000, 20_000))),
    # the digits: 8 x 8, 1,438 training images -> small
    ((8, 8), 1_438, (160, 128, 0.0, (100, 200, 300, 400, 500))),
])
def test_the_rule_for_the_papers_datasets(image_size, dataset_size, expected):
    rule = hyper_rule(image_size, dataset_size)
    assert (rule.precrop, rule.crop, rule.mixup_alpha, rule.supports) == expected
    assert rule.steps == expected[3][-1] and rule.base_lr == 0.003


def test_the_boundaries_fall_where_the_rule_says():
    # "< 20k" is small, "< 500k" medium; "area < 96 * 96" is a small image
    assert [size_class(n) for n in (19_999, 20_000, 499_999, 500_000)] == ["small", "medium", "medium", "large"]
    assert resolution((96, 95)) == (160, 128) and resolution((96, 96)) == (512, 480)
    assert resolution((48, 192)) == (512, 480)  # the area counts, not the side


def test_the_learning_rate_warms_up_then_drops_tenfold_after_each_support():
    rule = hyper_rule((32, 32), 1_000)  # small: supports 100, 200, 300, 400, 500
    expected = {0: 0.0, 50: 0.0015, 99: 0.003 * 99 / 100, 100: 0.003, 200: 0.003,
                201: 0.0003, 300: 0.0003, 301: 0.00003, 400: 0.00003, 401: 0.000003, 499: 0.000003}
    for step, lr in expected.items():
        assert learning_rate(step, rule) == pytest.approx(lr, rel=1e-12), step
    assert learning_rate(500, rule) is None and learning_rate(10_000, rule) is None
    assert learning_rate(250, hyper_rule((32, 32), 1_000, base_lr=0.01)) == pytest.approx(0.001, rel=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: hyper_rule((32, 32), 0), r"hyperrule: dataset_size must be an int >= 1, got 0"),
    (lambda: hyper_rule((32,), 100), r"hyperrule: image_size must be \(height, width\), got \(32,\)"),
    (lambda: hyper_rule((32, -1), 100), r"hyperrule: image width must be an int >= 1, got -1"),
    (lambda: hyper_rule((32, 32), 100, base_lr=0), r"hyperrule: base_lr must be a number > 0, got 0"),
    (lambda: learning_rate(-1, hyper_rule((32, 32), 100)), r"hyperrule: step must be an int >= 0, got -1"),
])
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
