"""One test per registered thing, read from the registries (pytorch-metric-learning's style): a new aggregator,
loss, miner, optimizer or scheduler is tested here without editing this file."""
import pytest
import torch

from conftest import model_config
from vpr_lib.errors import VPRInputError
from vpr_lib.models import VPRModel
from vpr_lib.models.aggregators import AGGREGATORS, Aggregator
from vpr_lib.train.losses import CLASSIFICATION_LOSSES, LOSSES, MINERS, build_loss, build_miner
from vpr_lib.train.optim import OPTIMIZERS, SCHEDULERS, build_optimizer, build_scheduler


def check_aggregator(name: str, **kwargs) -> None:
    """The aggregator contract (docs/extending.md): unit descriptors of `out_dim`; a map of another size is refused
    with the expected shape by an aggregator that says it checks its shape (`checks_shape`), else gives the same size;
    every one subclasses Aggregator, and its heatmap covers the map."""
    model = VPRModel.from_config(model_config(image_size=[64, 64], last_stage="layer3", aggregator=name,
                                              aggregator_kwargs=kwargs, normalize=True)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
        assert out.shape == (2, model.descriptor_dim)
        assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-4)
        other = torch.randn(2, model.feature_shape[0], 3, 5)  # a map of another size
        assert isinstance(model.aggregator, Aggregator)
        assert model.aggregator.heatmap(torch.rand(2, *model.feature_shape)).shape == (2, *model.feature_shape[1:])
        if model.aggregator.checks_shape:
            with pytest.raises(VPRInputError, match=r"built for feature maps of shape \(B, 256, 4, 4\)"):
                model.aggregator(other)
        else:
            assert model.aggregator(other).shape == (2, model.descriptor_dim)


@pytest.mark.parametrize("name", sorted(AGGREGATORS))
def test_every_aggregator_keeps_the_contract(name):
    check_aggregator(name)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_builds_and_gives_a_finite_loss(name):
    torch.manual_seed(0)
    embeddings = torch.nn.functional.normalize(torch.randn(16, 8), dim=1).requires_grad_()
    labels = torch.arange(4).repeat_interleave(4)
    loss = build_loss(name, {}, num_classes=4, embedding_size=8)
    value = loss(embeddings, labels)
    value.backward()
    assert torch.isfinite(value) and embeddings.grad is not None
    assert (name in CLASSIFICATION_LOSSES) == any(True for _ in loss.parameters())  # class weights: own optimizer


@pytest.mark.parametrize("name", sorted(MINERS))
def test_every_miner_builds_and_mines_indices(name):
    miner = build_miner(name)
    if miner is None:
        assert name == "none"
        return
    embeddings = torch.nn.functional.normalize(torch.randn(16, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    mined = miner(embeddings, torch.arange(4).repeat_interleave(4))
    assert len(mined) in (3, 4) and all(len(t) == 0 or int(t.max()) < 16 for t in mined)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_optimizer_and_scheduler_builds_and_steps(name, scheduler):
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = build_optimizer(name, [weight], {"lr": 0.1})
    (weight ** 2).sum().backward()
    optimizer.step()
    assert not torch.equal(weight.detach(), torch.ones(3))
    built = build_scheduler(scheduler, optimizer, {}, epochs=4)
    assert (built is None) == (scheduler == "none")


def test_a_class_that_does_not_subclass_the_base_is_refused_at_registration():
    from vpr_lib.models.aggregators import register
    with pytest.raises(TypeError, match="must subclass vpr_lib.models.aggregators.Aggregator"):
        register("plain")(torch.nn.Module)
    assert "plain" not in AGGREGATORS
