"""Replay buffers (ring order, sampling, resize, checkpoint) and branched rollouts."""

import torch

from mbrlbench.components.data.buffers import ReplayBuffer
from mbrlbench.components.data.rollouts import branched_rollout, rollout_length
from mbrlbench.components.models.ensemble import ProbabilisticEnsemble


def _fill(buf: ReplayBuffer, start: int, n: int) -> None:
    ids = torch.arange(start, start + n, dtype=torch.float32)
    buf.add(ids[:, None].expand(n, 2), ids[:, None], ids, ids[:, None].expand(n, 2) + 0.5, torch.zeros(n))


def test_ring_keeps_newest_in_order():
    buf = ReplayBuffer(5, obs_dim=2, act_dim=1)
    _fill(buf, 0, 3)
    _fill(buf, 3, 4)
    assert len(buf) == 5
    assert buf.all().rew.tolist() == [2, 3, 4, 5, 6]
    assert buf.recent(2).rew.tolist() == [5, 6]


def test_sampling_only_returns_stored_rows_and_covers_them():
    torch.manual_seed(0)
    buf = ReplayBuffer(100, obs_dim=2, act_dim=1)
    _fill(buf, 0, 30)
    batch = buf.sample(3000)
    values = set(batch.rew.tolist())
    assert values == set(range(30))
    assert torch.equal(batch.next_obs[:, 0], batch.rew + 0.5)  # rows stay whole


def test_single_transition_add_and_oversized_batch():
    buf = ReplayBuffer(3, obs_dim=2, act_dim=1)
    buf.add([1.0, 1.0], [0.5], 2.0, [1.5, 1.5], 1.0)
    assert len(buf) == 1 and buf.all().terminated.tolist() == [1.0]
    _fill(buf, 10, 7)
    assert buf.all().rew.tolist() == [14, 15, 16]


def test_resize_keeps_newest_and_checkpoint_roundtrip():
    buf = ReplayBuffer(10, obs_dim=2, act_dim=1)
    _fill(buf, 0, 8)
    buf.resize(4)
    assert buf.all().rew.tolist() == [4, 5, 6, 7]
    buf.resize(6)
    _fill(buf, 8, 3)
    assert buf.all().rew.tolist() == [5, 6, 7, 8, 9, 10]
    state = buf.state_dict()
    assert state["rew"].shape[0] == 6  # only the filled part is saved
    other = ReplayBuffer(1, obs_dim=2, act_dim=1)
    other.load_state_dict(state)
    assert other.capacity == 6 and other.all().rew.tolist() == [5, 6, 7, 8, 9, 10]


def test_resize_of_a_wrapped_ring_in_chunks_matches_rebuilding_it(monkeypatch):
    """Resize copies rows in chunks straight from the old storage (lower peak memory): the result must be the
    buffer one gets by adding the newest rows, oldest first, to a fresh one, and must sample the same."""
    monkeypatch.setattr("mbrlbench.components.data.buffers.RESIZE_CHUNK", 2)
    for new_capacity in (3, 7, 12):
        buf = ReplayBuffer(7, obs_dim=2, act_dim=1)
        _fill(buf, 0, 5)
        _fill(buf, 5, 5)  # wrapped: rows 3..9 stored, write pointer mid-array
        rebuilt = ReplayBuffer(new_capacity, obs_dim=2, act_dim=1)
        rebuilt.add(*buf.all())
        buf.resize(new_capacity)
        assert buf.all().rew.tolist() == rebuilt.all().rew.tolist() == list(range(10 - min(7, new_capacity), 10))
        assert torch.equal(buf.all().next_obs[:, 1], buf.all().rew + 0.5)  # rows stay whole
        _fill(buf, 10, 2)
        _fill(rebuilt, 10, 2)
        torch.manual_seed(0)
        ours = buf.sample(40).rew
        torch.manual_seed(0)
        assert torch.equal(ours, rebuilt.sample(40).rew)


def test_wrapped_buffer_samples_the_same_after_save_and_load():
    """A full ring whose write pointer is mid-array must sample identically once checkpointed and reloaded
    (found by the crash-safety kill loop: resumed runs drew other transitions)."""
    buf = ReplayBuffer(6, obs_dim=2, act_dim=1)
    _fill(buf, 0, 4)
    _fill(buf, 4, 5)  # wrapped: ptr = 3
    reloaded = ReplayBuffer(1, obs_dim=2, act_dim=1)
    reloaded.load_state_dict(buf.state_dict())
    torch.manual_seed(0)
    before = buf.sample(50).rew
    torch.manual_seed(0)
    after = reloaded.sample(50).rew
    assert torch.equal(before, after)


def test_rollout_length_schedule_matches_official_formula():
    schedule = (20, 150, 1, 15)
    assert rollout_length(schedule, 0) == 1
    assert rollout_length(schedule, 20) == 1
    assert rollout_length(schedule, 85) == int(65 / 130 * 14 + 1)  # 8
    assert rollout_length(schedule, 150) == 15
    assert rollout_length(schedule, 400) == 15
    assert rollout_length((1, 15, 1, 1), 10) == 1


def test_branched_rollout_stops_terminated_rows():
    torch.manual_seed(0)
    model = ProbabilisticEnsemble(
        obs_dim=1, act_dim=1, members=2, elites=2, hidden=4, layers=1, weight_decays=(0.0, 0.0)
    )
    with torch.no_grad():
        for p in model.net.parameters():
            p.zero_()
        model.net.layers[-1].bias[:, 0, 1] = 1.0  # delta obs = +1 each step
        model.net.layers[-1].bias[:, 0, 2:] = -30.0  # ~no noise
    out = ReplayBuffer(100, obs_dim=1, act_dim=1)
    start = torch.tensor([[0.0], [2.0]])
    stats = branched_rollout(
        model, lambda o: torch.zeros(o.shape[0], 1), lambda o: o[..., 0] > 2.5, start, horizon=5, out=out
    )
    # row from 2.0 terminates at step 1 (3.0 > 2.5); row from 0.0 goes 1, 2, 3 -> terminates at step 3
    assert stats["rollout/transitions"] == 4
    assert out.all().terminated.tolist() == [0.0, 1.0, 0.0, 1.0]
    assert stats["rollout/survival"] == 0.0


def test_a_checkpoint_from_before_the_rename_still_loads():
    """Buffers checkpointed when the termination column was called ``done`` load into ``terminated``."""
    buf = ReplayBuffer(4, 2, 1, torch.device("cpu"))
    old = {"capacity": 4, "obs": torch.ones(1, 2), "act": torch.zeros(1, 1), "rew": torch.ones(1)}
    old |= {"next_obs": torch.ones(1, 2), "done": torch.ones(1)}
    buf.load_state_dict(old)
    assert buf.all().terminated.tolist() == [1.0]
