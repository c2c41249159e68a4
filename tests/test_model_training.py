"""The one model trainer (components/models/model_training.py): its stop rules keep what they should, it steps only the
model, and every model reports model/val_loss in one unit (standardized holdout MSE)."""

import pytest
import torch
from torch import nn

from mbrlbench.components.models.ensemble import ProbabilisticEnsemble
from mbrlbench.components.models.mdn import MixtureDensityModel
from mbrlbench.components.models.model_training import (
    FixedSteps,
    KeepBestMembers,
    MemberEpochs,
    NoStop,
    RelativeImprovement,
    RollingFreeze,
    member_holdout,
    shared_holdout,
    standardized_mse,
    target_std,
    train_model,
)
from mbrlbench.components.models.mse_ensemble import DeterministicEnsemble


def scripted(scores: list[list[float]]):
    """A score function that returns the next row of ``scores`` on each call."""
    rows = iter(torch.tensor(scores))
    return lambda: next(rows)


def test_keep_best_members_restores_each_members_own_best_epoch_and_stops_after_patience():
    weights = torch.zeros(3, 1)
    # epoch:      1            2            3            4            5
    scores = [[5, 5, 5], [4, 6, 5], [4.5, 3, 5], [4.2, 3.5, 5.1], [4.1, 3.2, 5.2]]
    stop = KeepBestMembers(scripted(scores), [weights], patience=1, improvement=0.01)
    stopped_at = None
    for epoch in range(1, 6):
        weights.fill_(float(epoch))  # the parameter value names the epoch that produced it
        if stop.update(epoch):
            stopped_at = epoch
            break
    stop.finish()
    assert stopped_at == 5  # epochs 4 and 5 improved no member by more than 1%: 2 > patience 1
    assert weights.flatten().tolist() == [2.0, 3.0, 1.0]  # member 0 best at epoch 2, member 1 at 3, member 2 at 1


def test_relative_improvement_keeps_the_last_weights_and_never_stops_without_a_holdout():
    stop = RelativeImprovement(lambda: 1.0, patience=2, improvement=0.01)
    assert [stop.update(e) for e in range(1, 5)] == [False, False, False, True]  # 3 epochs without improving
    assert not any(RelativeImprovement(None, patience=0, improvement=0.01).update(e) for e in range(1, 50))


def test_rolling_freeze_is_the_official_rule_and_freezes_members_where_they_stopped():
    weights = torch.zeros(2, 1)
    losses = [[1.0, 1.0], [0.9, 1.0], [0.8, 3.0], [0.7, 3.0]] + [[0.7 + 0.05 * k, 3.0] for k in range(1, 200)]
    stop = RollingFreeze(scripted(losses), [weights], persistence=0.99, max_epochs=300)
    epoch = 0
    while True:
        epoch += 1
        weights.fill_(float(epoch))
        if stop.update(epoch):
            break
    stop.finish()
    # member 1's loss jumps to 3.0 at epoch 3: 0.99 r + 0.01 v rises above r at once; member 0 only once its
    # loss has climbed above the slowly decaying average (1.5 x the first loss at the start)
    assert stop.stop_epochs[1] == 3 and stop.stop_epochs[0] > 3
    assert weights.flatten().tolist() == [float(stop.stop_epochs[0]), 3.0]
    assert epoch == stop.stop_epochs[0]


def test_the_trainer_steps_only_the_optimizers_parameters_and_clips():
    model, other = nn.Linear(2, 1), nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    before = model.weight.detach().clone()

    def objective(step, active):
        loss = 1000.0 * (model(torch.ones(1, 2)) * other(torch.ones(1, 2))).sum()
        return loss, loss.detach()

    trained = train_model(objective, optimizer, FixedSteps(3), NoStop(), 1, max_grad_norm=0.1)
    assert trained.steps == 3 and trained.epochs == 1
    assert other.weight.grad is None  # the objective depends on it; no gradient reaches it
    moved = (model.weight.detach() - before).norm()  # 3 steps, each of norm <= 0.1 over weight and bias
    assert 0 < moved <= 0.3 + 1e-6


def test_splits_and_member_epochs_cover_their_rows():
    torch.manual_seed(0)
    shared = shared_holdout(100, 0.2, 15, torch.device("cpu"))
    assert shared.hold.numel() == 15 and sorted(torch.cat([shared.train, shared.hold]).tolist()) == list(range(100))
    members = member_holdout(50, 3, 0.2, torch.device("cpu"))
    assert members.hold.shape == (3, 10) and members.train.shape == (3, 40)
    for e in range(3):
        assert sorted(torch.cat([members.train[e], members.hold[e]]).tolist()) == list(range(50))
    batches = list(MemberEpochs(members.train, 16).epoch())
    assert [b.shape for b in batches] == [(3, 16), (3, 16), (3, 8)]
    assert all(
        sorted(torch.cat([b[e] for b in batches]).tolist()) == sorted(members.train[e].tolist()) for e in range(3)
    )


def test_standardized_mse_is_one_for_predicting_the_mean():
    y = torch.randn(500, 3) * torch.tensor([0.01, 1.0, 100.0]) + 5
    assert standardized_mse(y.mean(dim=0).expand_as(y), y, target_std(y)).item() == pytest.approx(1.0, rel=1e-4)
    constant = torch.ones(10, 2)  # a constant output counts as std 1
    assert target_std(constant).tolist() == [1.0, 1.0]


def _data(n: int = 600, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(n, 3, generator=g)
    y = torch.stack([x[:, 0] * x[:, 1], torch.sin(x[:, 2]), x[:, 0] - x[:, 2]], dim=1)
    return x, scale * (y + 0.05 * torch.randn(n, 3, generator=g))


@pytest.mark.parametrize("model_kind", ["mdn", "deterministic"])
def test_val_loss_does_not_depend_on_the_targets_units(model_kind):
    """The models that standardize their targets train the same on rescaled targets; their model/val_loss
    must then be the same number (it was in raw units for the MDN before issue 30)."""
    results = []
    for scale in (1.0, 1000.0):
        torch.manual_seed(0)
        if model_kind == "mdn":
            model = MixtureDensityModel(2, 1, components=2, hidden=16, layers=2, batches_per_epoch=10)
            fit = model.fit(*_data(scale=scale), max_epochs=3)
        else:
            model = DeterministicEnsemble(2, 1, members=3, hidden=16, layers=2)
            fit = model.fit(*_data(scale=scale), batch_size=100, max_epochs=3)
        results.append(fit.val_loss)
    assert 0 < results[0] < 1.5
    assert results[1] == pytest.approx(results[0], rel=1e-3)


def test_ensemble_val_loss_is_one_for_members_that_predict_the_mean():
    torch.manual_seed(0)
    model = ProbabilisticEnsemble(obs_dim=2, act_dim=1, members=3, elites=2, hidden=8, layers=1, weight_decays=(0, 0))
    x, y = _data(scale=50.0)
    with torch.no_grad():
        for layer in model.net.linears():
            layer.weight.zero_()
            layer.bias.zero_()
        model.net.linears()[-1].bias[:, 0, : model.out_dim] = y.mean(dim=0)
    val = model.validation_mse(x, y, target_std(y))
    assert val == pytest.approx(1.0, rel=1e-4)
