"""Callbacks: hooks before and after each layer, env step, policy call and episode.

A :class:`Callback` has one method per event, each a no-op; override the ones you need and
register the callback on the runtime (``VectorWorldsEnv(..., callbacks=[cb])``,
``env.add_callback(cb)``, ``heas_envs.make_vec(..., callbacks=[cb])``; a PettingZoo env of
:func:`heas_envs.make_parallel` through ``env.add_callback(cb)``, on its ``worlds``) or on a
runner (``Tournament(..., callbacks=[cb])``, :func:`agents.rollout.play_episodes`).
:class:`CallbackList` runs several in order. Without a registered callback nothing is called
and nothing is paid.

**Order on the runtime.** ``env`` is the :class:`~heas_envs.env.VectorWorldsEnv`; ``worlds``
an array of world indices (sorted):

- ``reset()``: ``on_episode_start(env, worlds)`` for every world, after the reset (the first
  observations are ready). Layers that a reset runs itself (a ``decision="layer"`` model
  reaching its first decision layer) are part of the reset and are not reported. A reset that
  cuts episodes short reports no ``on_episode_end`` for them.
- ``step(actions)``, in this order:

  1. ``on_step_start(env, actions)``: ``actions`` as the worlds get them (``{role: [B,
     n_agents, *act]}``, validated; a step refused for bad actions reports nothing);
  2. ``"next_step"`` autoreset: ``on_episode_start(env, worlds)`` for the worlds this step
     resets (``info["autoreset"]``); they do not run layers in this step;
  3. for each cohort (worlds that started their episode together share one model; cohorts in
     the order of their first world), for each layer the model runs, in order:
     ``on_layer_start(model, index, layer, worlds)`` and ``on_layer_end(model, index, layer,
     worlds)``; ``worlds`` is ``[k]``, the world of each of the model's rows (``-1``: a row
     that no longer holds a world and steps with filler actions); slow layers off their
     period are not run, so not reported;
  4. ``on_episode_end(env, worlds)`` for the worlds whose episode ended in this step
     (``info["ended"]``), while they still hold their final state
     (``env.episode_metrics()`` reads it);
  5. ``"same_step"`` autoreset: those worlds are reset, then ``on_episode_start(env, worlds)``;
  6. ``on_step_end(env, result)``: ``result`` is the :class:`~heas_envs.env.vector.VectorStep`
     that ``step`` returns.

So every episode of every world gets exactly one ``on_episode_start`` and, if it ends before
the next ``reset()``, one ``on_episode_end``; every step one ``on_step_start`` and one
``on_step_end``; every layer run one ``on_layer_start`` and one ``on_layer_end``.

**Order on a runner** (tournament batch, ``play_episodes``): the runner plays one episode per
world and reports those: ``on_episode_start(env, worlds)`` for all worlds after its reset,
``on_episode_end(env, worlds)`` for the worlds whose (counted) episode ends in a step; the
env's automatic resets of worlds that finished early are not reported. Each step:
``on_policy_start(env, role, obs, name)`` and ``on_policy_end(env, role, obs, actions, name)``
around each call of the policy being played or evaluated (``name``: the participant's name,
or ``None``; background policies are not reported), then the env's step hooks as above
(``on_step_start``, the layers, ``on_step_end``), then the runner's ``on_episode_end``.

Callbacks observe: they must not change the arrays they are given or the env's state, and
then trajectories are the same, bit for bit, with and without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

#: The hook names, in the order a step reports them (for :class:`CallbackList` and tests).
HOOKS = (
    "on_episode_start",
    "on_policy_start",
    "on_policy_end",
    "on_step_start",
    "on_layer_start",
    "on_layer_end",
    "on_step_end",
    "on_episode_end",
)


class Callback:
    """Hooks around episodes, steps, layers and policy calls; every method is a no-op.

    See the module docs for the order in which they are called.

    Example:
        >>> class Ticks(Callback):
        ...     def __init__(self):
        ...         self.layers = []
        ...     def on_layer_end(self, model, index, layer, worlds=None):
        ...         self.layers.append((model.ctx.tick, layer.name))
        >>> env = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, callbacks=[Ticks()])
    """

    def on_episode_start(self, env: Any, worlds: np.ndarray) -> None:
        """Episodes of ``worlds`` started (after their reset)."""

    def on_episode_end(self, env: Any, worlds: np.ndarray) -> None:
        """Episodes of ``worlds`` ended in the current step (their final state is readable)."""

    def on_step_start(self, env: Any, actions: dict[str, np.ndarray]) -> None:
        """A step of every world begins, with the validated ``actions``."""

    def on_step_end(self, env: Any, result: Any) -> None:
        """A step ended; ``result`` is what ``env.step`` returns."""

    def on_layer_start(
        self, model: Any, index: int, layer: Any, worlds: np.ndarray | None = None
    ) -> None:
        """Layer ``index`` of ``model`` is about to run (``worlds``: each row's world, ``-1``
        for a row holding none; ``None`` when a model is run outside an env)."""

    def on_layer_end(
        self, model: Any, index: int, layer: Any, worlds: np.ndarray | None = None
    ) -> None:
        """Layer ``index`` of ``model`` ran."""

    def on_policy_start(self, env: Any, role: str, obs: np.ndarray, name: str | None) -> None:
        """A runner is about to call the policy ``name`` of ``role`` on ``obs``."""

    def on_policy_end(
        self, env: Any, role: str, obs: np.ndarray, actions: np.ndarray, name: str | None
    ) -> None:
        """The policy returned ``actions`` for ``obs``."""


class CallbackList(Callback):
    """Several callbacks run as one, in the order given.

    Args:
        callbacks: :class:`Callback` instances (a :class:`CallbackList` among them runs as one).

    Raises:
        ValueError: Something that is not a :class:`Callback`.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks: list[Callback] = []
        for cb in as_callbacks(callbacks):
            self.append(cb)

    def append(self, callback: Callback) -> None:
        """Add ``callback`` at the end."""
        if not isinstance(callback, Callback):
            raise ValueError(
                f"callbacks must be heas_envs.core.callbacks.Callback instances, got "
                f"{type(callback).__name__}"
            )
        self.callbacks.append(callback)

    def remove(self, callback: Callback) -> None:
        """Remove ``callback`` (the first entry that is it).

        Raises:
            ValueError: ``callback`` is not registered.
        """
        for i, cb in enumerate(self.callbacks):
            if cb is callback:
                del self.callbacks[i]
                return
        raise ValueError(f"{type(callback).__name__} {callback!r} is not a registered callback")

    def __len__(self) -> int:
        return len(self.callbacks)

    def __iter__(self):  # noqa: D105
        return iter(self.callbacks)

    def on_episode_start(self, env: Any, worlds: np.ndarray) -> None:  # noqa: D102
        for cb in self.callbacks:
            cb.on_episode_start(env, worlds)

    def on_episode_end(self, env: Any, worlds: np.ndarray) -> None:  # noqa: D102
        for cb in self.callbacks:
            cb.on_episode_end(env, worlds)

    def on_step_start(self, env: Any, actions: dict[str, np.ndarray]) -> None:  # noqa: D102
        for cb in self.callbacks:
            cb.on_step_start(env, actions)

    def on_step_end(self, env: Any, result: Any) -> None:  # noqa: D102
        for cb in self.callbacks:
            cb.on_step_end(env, result)

    def on_layer_start(  # noqa: D102
        self, model: Any, index: int, layer: Any, worlds: np.ndarray | None = None
    ) -> None:
        for cb in self.callbacks:
            cb.on_layer_start(model, index, layer, worlds)

    def on_layer_end(  # noqa: D102
        self, model: Any, index: int, layer: Any, worlds: np.ndarray | None = None
    ) -> None:
        for cb in self.callbacks:
            cb.on_layer_end(model, index, layer, worlds)

    def on_policy_start(  # noqa: D102
        self, env: Any, role: str, obs: np.ndarray, name: str | None
    ) -> None:
        for cb in self.callbacks:
            cb.on_policy_start(env, role, obs, name)

    def on_policy_end(  # noqa: D102
        self, env: Any, role: str, obs: np.ndarray, actions: np.ndarray, name: str | None
    ) -> None:
        for cb in self.callbacks:
            cb.on_policy_end(env, role, obs, actions, name)


class StepHooks(CallbackList):
    """The step and layer hooks of some callbacks, without their episode hooks: what a runner
    registers on the env it steps, reporting its own episodes itself (see the module docs)."""

    def on_episode_start(self, env: Any, worlds: np.ndarray) -> None:  # noqa: D102
        return None

    def on_episode_end(self, env: Any, worlds: np.ndarray) -> None:  # noqa: D102
        return None


def as_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` (``None``, one :class:`Callback` or an iterable of them) as a list.

    Raises:
        ValueError: Something that is not a :class:`Callback`.
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
        raise ValueError(
            "callbacks must be a Callback, a list of Callback instances or None, got "
            f"{type(callbacks).__name__}"
        )
    out = list(callbacks)
    for cb in out:
        if not isinstance(cb, Callback):
            raise ValueError(
                "callbacks must be heas_envs.core.callbacks.Callback instances, got "
                f"{type(cb).__name__}"
            )
    return out
