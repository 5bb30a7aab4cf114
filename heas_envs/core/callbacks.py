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

**Once each.** A callback object is registered at most once on an env and once in a
:class:`CallbackList` (a list inside the list included): registering it again raises a
``ValueError`` naming it, rather than running it twice per hook.

**Runners** share one plumbing: :func:`hooked` registers the step and layer hooks of their
callbacks (a :class:`StepHooks`) on the worlds under the env for the run, and removes them
after; :func:`call_policy` wraps one policy call in ``on_policy_start`` / ``on_policy_end``.
What a runner records per step (the tournament's ``collect_period`` steps, the economy
plots' ticks) is itself a callback, registered the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
        ValueError: Something that is not a :class:`Callback`, or one callback given twice.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks: list[Callback] = []
        for cb in as_callbacks(callbacks):
            self.append(cb)

    def append(self, callback: Callback) -> None:
        """Add ``callback`` at the end.

        Raises:
            ValueError: ``callback`` is not a :class:`Callback`, or it (or a callback of it,
                when it is a :class:`CallbackList`) is in this list already (it would run
                twice per hook).
        """
        if not isinstance(callback, Callback):
            raise ValueError(
                f"callbacks must be heas_envs.core.callbacks.Callback instances, got "
                f"{type(callback).__name__}"
            )
        mine = {id(cb) for cb in _members(self)}
        for cb in _members(callback):
            if id(cb) in mine:
                raise ValueError(registered_already(cb))
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
        ValueError: Something that is not a :class:`Callback`, or one callback given twice.
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
    seen: set[int] = set()
    for cb in out:
        if not isinstance(cb, Callback):
            raise ValueError(
                "callbacks must be heas_envs.core.callbacks.Callback instances, got "
                f"{type(cb).__name__}"
            )
        if id(cb) in seen:
            raise ValueError(registered_already(cb))
        seen.add(id(cb))
    return out


def registered_already(callback: Callback) -> str:
    """The error of registering ``callback`` a second time."""
    return (
        f"callback {type(callback).__name__} ({callback!r}) is registered already; register "
        "each callback once (twice, it would run twice per hook)"
    )


def _members(callback: Callback) -> Iterator[Callback]:
    """``callback`` and, for a :class:`CallbackList`, every callback in it (at any depth)."""
    yield callback
    if isinstance(callback, CallbackList):
        for cb in callback.callbacks:
            yield from _members(cb)


@contextmanager
def hooked(env: Any, callbacks: Any) -> Iterator[CallbackList | None]:
    """A runner's callbacks for the ``with`` block: their step and layer hooks
    (:class:`StepHooks`) registered on the batched worlds under ``env``, removed at the end
    (also when the block raises).

    Example:
        >>> with hooked(venv, callbacks) as hooks:
        ...     obs, _ = venv.reset(seed=seeds)
        ...     if hooks is not None:
        ...         hooks.on_episode_start(venv, np.arange(len(seeds)))
        ...     actions = call_policy(hooks, venv, role, obs[role], act, name)

    Args:
        env: What the runner steps: batched worlds, a PettingZoo env of this package or a
            wrapper of either (``heas_envs.data.collector.worlds_of``).
        callbacks: ``None``, one :class:`Callback` or a list of them.

    Yields:
        The :class:`CallbackList` the runner reports its episodes and policy calls to, or
        ``None`` when there are no callbacks (then nothing is registered, nothing is paid).

    Raises:
        ValueError: Something that is not a :class:`Callback`, a callback given twice, or a
            callback registered on the worlds already.
    """
    hooks = CallbackList(callbacks) if callbacks is not None else None
    if not hooks:
        yield None
        return
    from heas_envs.data.collector import worlds_of

    engine, env_hooks = worlds_of(env), StepHooks(hooks)
    engine.add_callback(env_hooks)
    try:
        yield hooks
    finally:
        engine.remove_callback(env_hooks)


def call_policy(
    hooks: Callback | None,
    env: Any,
    role: str,
    obs: np.ndarray,
    act: Callable[[np.ndarray], Any],
    name: str | None = None,
) -> np.ndarray:
    """``act(obs)`` as an array, between ``on_policy_start`` and ``on_policy_end`` of
    ``hooks`` (``None``: just the call).

    Args:
        hooks: The runner's callbacks (what :func:`hooked` yields).
        env: The env the runner steps (given to the hooks).
        role: The role ``act`` plays.
        obs: Its observations.
        act: The policy.
        name: The policy's name for the hooks (a participant's), or ``None``.

    Returns:
        ``np.asarray(act(obs))``.
    """
    if hooks is None:
        return np.asarray(act(obs))
    hooks.on_policy_start(env, role, obs, name)
    actions = np.asarray(act(obs))
    hooks.on_policy_end(env, role, obs, actions, name)
    return actions
