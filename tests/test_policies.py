"""Each gradient-based algorithm's policy: which parameters adapt, at which rates, where the head
starts, first or second order, and what the learner makes of it."""

from __future__ import annotations

import pytest
import torch

from workbench.algorithms import DataInfo, build_learner
from workbench.algorithms.mamlpp import batchnorm_names, msl_weights
from workbench.algorithms.policies import (
    POLICIES,
    AllParameters,
    ConstantRate,
    GradientPolicy,
    HeadAsIs,
    HeadOnly,
    PerElementRates,
    PerLayerPerStepRates,
    PrototypeHead,
    StepBatchNorm,
    ZeroHead,
    policy_for,
)
from workbench.algorithms.prototypes import prototypes
from workbench.algorithms.rates import PerElementLearningRates, PerStepLearningRates
from workbench.config import GRADIENT_BASED, AlgorithmConfig, ExperimentConfig
from workbench.models.backbones import build_model

CPU = torch.device("cpu")


def config(name: str, *, regression: bool = False, batchnorm: str = "batch", **alg):
    c = ExperimentConfig()
    if regression:
        c.data.dataset, c.model.backbone = "sinusoid", "mlp"
    else:
        c.data.dataset, c.data.ways, c.data.image_size = "glyphs", 3, 16
        c.model.hidden, c.model.batchnorm = 4, batchnorm
    c.algorithm.name, c.algorithm.inner_steps, c.algorithm.inner_lr = name, 3, 0.25
    for k, v in alg.items():
        setattr(c.algorithm, k, v)
    return c.validate()


def policy(name: str, *, regression: bool = False, **alg) -> GradientPolicy:
    return policy_for(config(name, regression=regression, **alg).algorithm, regression=regression)


def learner(name: str, **options):
    classes = tuple(f"c{i}" for i in range(8))
    return build_learner(config(name, **options), DataInfo(1, classes), CPU)


def conv_model():
    torch.manual_seed(0)
    return build_model(config("maml"), None, 1)


def test_every_gradient_based_algorithm_has_a_policy_and_no_other():
    assert set(GRADIENT_BASED) | {"reptile", "finetune"} == set(POLICIES)
    with pytest.raises(ValueError, match="protonet is not a gradient-based algorithm"):
        policy_for(AlgorithmConfig(name="protonet"), regression=False)


@pytest.mark.parametrize(
    ("name", "scope", "rates", "head"),
    [
        ("maml", AllParameters, ConstantRate, HeadAsIs),
        ("fomaml", AllParameters, ConstantRate, HeadAsIs),
        ("metasgd", AllParameters, PerElementRates, HeadAsIs),
        ("anil", HeadOnly, ConstantRate, HeadAsIs),
        ("protomaml", AllParameters, ConstantRate, PrototypeHead),
        ("mamlpp", AllParameters, PerLayerPerStepRates, HeadAsIs),
        ("reptile", AllParameters, ConstantRate, HeadAsIs),
        ("finetune", HeadOnly, ConstantRate, ZeroHead),
    ],
)
def test_each_algorithm_has_its_scope_rate_rule_and_head_start(name, scope, rates, head):
    p = policy(name)
    assert (type(p.scope), type(p.rates), type(p.head)) == (scope, rates, head)


def test_which_parameters_adapt():
    model = conv_model()
    everything = [n for n, _ in model.named_parameters()]
    assert AllParameters().keys(model) == everything
    assert HeadOnly().keys(model) == ["head.weight", "head.bias"]
    assert learner("maml").adapt_keys == everything
    assert learner("anil").adapt_keys == ["head.weight", "head.bias"]
    assert learner("finetune").adapt_keys == ["head.weight", "head.bias"]
    regression = build_learner(config("finetune", regression=True), DataInfo(), CPU)
    assert regression.adapt_keys == [n for n, _ in regression.model.named_parameters()]
    # MAML++ with per-step BatchNorm weights adapts everything but the BatchNorm layers
    pp = learner("mamlpp", bnwb=True)
    bn = set(batchnorm_names(pp.model))
    assert bn and set(pp.adapt_keys) == set(everything) - bn
    assert set(learner("mamlpp", bnwb=False).adapt_keys) == set(everything)


def test_constant_rate_learns_nothing_and_steps_with_the_inner_lr():
    model = conv_model()
    params = dict(model.named_parameters())
    assert ConstantRate().learned(params, list(params), 3, 0.25) is None
    maml = learner("maml")
    assert maml.learned_lr is None
    assert maml._lr_fn()("body.0.weight", 2) == 0.25
    assert maml._lr_fn(0.7)("head.bias", 0) == 0.7  # an override at adaptation time


def test_metasgd_learns_one_rate_per_parameter_element_for_every_step():
    params = dict(conv_model().named_parameters())
    keys = ["body.0.weight", "head.bias"]
    rates = PerElementRates().learned(params, keys, 3, 0.25)
    assert isinstance(rates, PerElementLearningRates)
    assert set(rates.keys()) == {"body__0__weight", "head__bias"}
    for k in keys:
        r = rates.rate(k, 0)
        assert r.shape == params[k].shape and r.requires_grad
        assert torch.equal(r, torch.full_like(params[k], 0.25))
        assert rates.rate(k, 2) is r  # the same rates at every step
    learned = learner("metasgd")
    lr_params = {id(p) for p in learned.learned_lr.parameters()}
    assert lr_params <= {id(p) for p in learned.meta_parameters()}  # the outer loop learns them


def test_lslr_learns_one_rate_per_layer_and_step():
    params = dict(conv_model().named_parameters())
    rates = PerLayerPerStepRates().learned(params, ["head.weight"], 3, 0.25)
    assert isinstance(rates, PerStepLearningRates)
    with torch.no_grad():
        rates.rates["head__weight"].copy_(torch.tensor([0.1, 0.2, 0.3]))
    assert [float(rates.rate("head.weight", s).detach()) for s in range(5)] == pytest.approx(
        [0.1, 0.2, 0.3, 0.3, 0.3]  # steps beyond those trained reuse the last rate
    )
    assert rates.rate("head.weight", 0).shape == ()
    assert type(policy("mamlpp", lslr=False).rates) is ConstantRate


def test_head_starts_as_is_at_zero_or_at_the_prototypes():
    params = dict(conv_model().named_parameters())
    features = torch.randn(6, 5, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])

    def never() -> torch.Tensor:
        raise AssertionError("a head that does not depend on the body computed features")

    assert HeadAsIs().start(params, never, labels, 3) is params
    zero = ZeroHead().start(params, never, labels, 3)
    width = params["head.weight"].shape[1]
    assert torch.equal(zero["head.weight"], torch.zeros(3, width))
    assert torch.equal(zero["head.bias"], torch.zeros(3))
    assert zero["body.0.weight"] is params["body.0.weight"]
    assert params["head.weight"].abs().sum() > 0  # the model's own head is left alone
    proto = PrototypeHead().start(params, lambda: features, labels, 3)
    c = prototypes(features, labels, 3)
    assert torch.allclose(c[0], features[[0, 3]].mean(0))
    assert torch.allclose(proto["head.weight"], 2 * c)
    assert torch.allclose(proto["head.bias"], -(c**2).sum(-1))
    assert proto["body.0.weight"] is params["body.0.weight"]
    assert PrototypeHead.depends_on_body and not ZeroHead.depends_on_body
    assert not HeadAsIs.depends_on_body


def test_protomaml_does_not_meta_learn_the_head_it_replaces():
    proto, maml = learner("protomaml"), learner("maml")
    assert not proto.policy.meta_learns_head and maml.policy.meta_learns_head
    head = {id(p) for n, p in proto.model.named_parameters() if n.startswith("head.")}
    assert head and not head & {id(p) for p in proto.meta_parameters()}
    assert len(maml.meta_parameters()) == len(list(maml.model.parameters()))


def test_first_and_second_order():
    assert policy("maml").second_order_at(0)
    assert not policy("maml", first_order=True).second_order_at(10**9)
    assert not policy("fomaml").second_order_at(10**9)
    assert policy("metasgd").second_order_at(0) and policy("anil").second_order_at(0)
    annealed = policy("mamlpp", da_iterations=5)
    assert [annealed.second_order_at(i) for i in (0, 4, 5, 6)] == [False, False, True, True]
    assert not policy("mamlpp", da_iterations=5, first_order=True).second_order_at(10)
    assert not policy("reptile").second_order_at(10**9)


def test_multi_step_loss_weights_only_for_mamlpp_with_msl():
    assert policy("maml").query_loss_weights(3, 0) is None
    assert policy("mamlpp", msl=False).query_loss_weights(3, 0) is None
    pp = policy("mamlpp", msl=True, msl_iterations=100)
    assert pp.query_loss_weights(3, 50) == msl_weights(3, 50, 100)
    assert pp.query_loss_weights(3, 0) == pytest.approx([1 / 3] * 3)


def test_per_step_batchnorm_only_where_the_model_has_something_to_hold():
    batch_bn = conv_model()
    assert StepBatchNorm(weights=False, statistics=True).build(batch_bn, 2) is None
    weights = StepBatchNorm(weights=True, statistics=True).build(batch_bn, 2)
    assert weights is not None and weights.weights and not weights.statistics
    running = build_model(config("maml", batchnorm="running"), None, 1)
    stats = StepBatchNorm(weights=False, statistics=True).build(running, 2)
    assert stats is not None and stats.statistics and not list(stats.parameters())
    mlp = build_model(config("maml", regression=True), None, 1)  # no BatchNorm at all
    assert StepBatchNorm(weights=True, statistics=True).build(mlp, 2) is None
    assert policy("maml").step_batchnorm is None and learner("maml").step_bn is None
