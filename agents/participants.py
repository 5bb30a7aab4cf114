"""Participants: who plays the focal agents of a tournament's scenarios.

A :class:`Participant` has a name and a policy of one role over every world at once:
:meth:`Participant.bind` returns a function from the role's observations
``[B, n_agents, *obs]`` (world ``b`` playing the episode seeded ``seeds[b]``) to actions
``[B, n_agents, *act]``, called once per step for all worlds. Build one from

- the model's reference policy: :meth:`Participant.heuristic`;
- uniform random play: :meth:`Participant.random` (one generator per world, seeded by the
  participant's seed and the world's episode seed, so an episode's draws do not depend on
  which batch it is played in);
- a torch module mapping observations to actions (:class:`agents.policies.MLPPolicy`, an
  SB3 actor, ...): :meth:`Participant.from_module`;
- a Stable-Baselines3 model file: :meth:`Participant.from_sb3` (``model.predict`` on the
  flattened rows, deterministic);
- an EvoTorch result: :meth:`Participant.from_evo` (a run directory's ``best.pt``, or a flat
  parameter vector, loaded into :class:`agents.policies.MLPPolicy` built for the role's spaces);
- any function of the observations: :meth:`Participant.from_function`;
- a swarm planner searching the model's futures from each world's state:
  :meth:`Participant.planner` (:mod:`agents.planner`).

:meth:`Participant.to_dict` describes a participant as JSON data (kind, arguments, and a
SHA-256 digest of the weights or file played), so a tournament's configuration says what was
played; :meth:`Participant.from_dict` rebuilds the kinds that are data (heuristic, random, SB3
and EvoTorch ones), and :func:`parse_participant` reads the command line's
``[NAME=]heuristic|random[:SEED]|sb3:PATH|evo:RUN_DIR|planner[:KEY=VALUE,...]``.

Participants pickle (modules as torch pickles them, SB3 models by path), so process pools and
Ray workers receive them whole.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from heas_envs.cli import key_values
from heas_envs.env.vector import sample_actions

#: A policy over all worlds: one role's observations ``[B, n_agents, *obs]`` -> actions.
Act = Callable[[np.ndarray], np.ndarray]

#: The kinds of participant.
KINDS = ("heuristic", "random", "module", "sb3", "evo", "function", "planner")


class Participant:
    """Who plays the focal agents: a name and a policy of one role over all worlds.

    Build participants with the class methods (:meth:`heuristic`, :meth:`random`,
    :meth:`from_module`, :meth:`from_sb3`, :meth:`from_evo`, :meth:`from_function`,
    :meth:`from_dict`) rather than the constructor.

    Args:
        name: The name in every table (unique within a tournament).
        kind: One of :data:`KINDS`.
        spec: The kind's JSON-ready arguments (what :meth:`to_dict` adds to name and kind).
        payload: What the kind plays that is not data (a module, a function).

    Raises:
        ValueError: An empty name or an unknown kind.
    """

    def __init__(
        self, name: str, kind: str, spec: Mapping[str, Any] | None = None, payload: Any = None
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a participant name must be a non-empty string, got {name!r}")
        if kind not in KINDS:
            raise ValueError(f"unknown participant kind {kind!r}; kinds: {list(KINDS)}")
        self.name = name
        self.kind = kind
        self.spec = dict(spec or {})
        self._payload = payload
        self._cache: dict[str, Any] = {}

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def heuristic(cls, name: str = "heuristic") -> Participant:
        """The model's reference policy (``env.heuristic_actions``) for the role."""
        return cls(name, "heuristic")

    @classmethod
    def random(cls, seed: int = 0, name: str = "random") -> Participant:
        """Uniformly random actions; world ``b`` draws from ``default_rng([seed, seeds[b]])``
        (its episode's seed), so draws do not depend on batching.

        Raises:
            ValueError: A seed that is not a non-negative integer.
        """
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"a random participant's seed must be an integer >= 0, got {seed!r}")
        return cls(name, "random", {"seed": int(seed)})

    @classmethod
    def from_module(cls, module: Any, name: str | None = None) -> Participant:
        """A torch module mapping observations ``[..., *obs]`` to actions in the role's space
        (its forward is called without gradients on all worlds at once).

        Args:
            module: A ``torch.nn.Module`` (e.g. :class:`agents.policies.MLPPolicy`).
            name: The name (default: the module's class name).

        Raises:
            ValueError: Not a torch module.
        """
        from torch import nn

        if not isinstance(module, nn.Module):
            raise ValueError(f"from_module takes a torch.nn.Module, got {type(module).__name__}")
        kind = type(module)
        spec = {
            "class": f"{kind.__module__}.{kind.__qualname__}",
            "parameters": int(sum(p.numel() for p in module.parameters())),
            "sha256": _module_digest(module),
        }
        return cls(name or kind.__name__, "module", spec, payload=module)

    @classmethod
    def from_sb3(
        cls, path: str | Path, algo: str | None = None, name: str | None = None
    ) -> Participant:
        """A Stable-Baselines3 model file, played deterministically (``model.predict`` on the
        rows ``[B * n_agents, *obs]``).

        Args:
            path: The model's ``.zip`` file, or a run directory of
                :func:`agents.sb3.train_sb3` holding ``model.zip``.
            algo: The SB3 algorithm class name (``"PPO"``, ``"SAC"``, ...); default: the
                ``algo`` of ``args.json`` in the file's directory or the one above it (where
                ``train_sb3`` writes it), else ``"PPO"``.
            name: The name (default: ``"sb3:<run directory name>"``).

        Raises:
            ValueError: A missing file or an unknown algorithm.
        """
        file = Path(path)
        if file.is_dir():
            file = file / "model.zip"
        if not file.is_file():
            raise ValueError(f"no SB3 model file at {str(path)!r}")
        from agents.sb3 import ALGORITHMS

        if algo is None:
            algo = _args_json(file.parent).get("algo") or _args_json(file.parent.parent).get(
                "algo", "PPO"
            )
        if algo not in ALGORITHMS:
            raise ValueError(f"unknown SB3 algorithm {algo!r}; algorithms: {list(ALGORITHMS)}")
        spec = {"path": str(file.resolve()), "algo": algo, "sha256": _file_digest(file)}
        label = file.parent.name if file.name == "model.zip" else file.stem
        return cls(name or f"sb3:{label}", "sb3", spec)

    @classmethod
    def from_evo(
        cls,
        run_dir: str | Path | None = None,
        *,
        vector: Any = None,
        policy_kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> Participant:
        """An EvoTorch result played by :class:`agents.policies.MLPPolicy` (deterministic),
        built for the spaces of the role it plays.

        Args:
            run_dir: A run directory of :func:`agents.evo.train_evo` (``best.pt``; the
                policy's keyword arguments from its ``args.json``).
            vector: Instead of ``run_dir``: a flat parameter vector (an EvoTorch solution,
                :func:`agents.policies.parameters_to_vector` of an ``MLPPolicy``).
            policy_kwargs: The ``MLPPolicy`` keyword arguments (default: the run's, or none).
            name: The name (default: ``"evo:<run directory name>"``, or ``"evo"``).

        Raises:
            ValueError: Neither or both of ``run_dir`` and ``vector``, a run directory without
                ``best.pt``, or a vector that is not 1-D and finite.
        """
        if (run_dir is None) == (vector is None):
            raise ValueError("from_evo takes a run directory or a parameter vector (one of them)")
        if run_dir is not None:
            directory = Path(run_dir)
            best = directory / "best.pt"
            if not best.is_file():
                raise ValueError(f"no best.pt in the EvoTorch run directory {str(run_dir)!r}")
            kwargs = dict(policy_kwargs or _args_json(directory).get("policy_kwargs") or {})
            spec: dict[str, Any] = {
                "run_dir": str(directory.resolve()),
                "policy_kwargs": kwargs,
                "sha256": _file_digest(best),
            }
            return cls(name or f"evo:{directory.name}", "evo", spec)
        values = np.asarray(vector.detach().cpu() if hasattr(vector, "detach") else vector)
        values = values.astype(np.float64)
        if values.ndim != 1 or not np.isfinite(values).all():
            raise ValueError(
                f"an EvoTorch parameter vector must be 1-D and finite, got shape {values.shape}"
            )
        spec = {"vector": values.tolist(), "policy_kwargs": dict(policy_kwargs or {})}
        return cls(name or "evo", "evo", spec)

    @classmethod
    def planner(
        cls,
        name: str = "planner",
        callbacks: Any = None,
        **settings: Any,
    ) -> Participant:
        """A swarm planner (:class:`agents.planner.SwarmPlanner`): before each step it loads
        every world into ``walkers`` planning worlds, searches ``horizon`` steps ahead with
        cloning toward better and less explored walkers, and plays the first action of the
        best path.

        Args:
            name: The name.
            callbacks: Hooks registered on the planning envs (not part of the description).
            **settings: :class:`agents.planner.PlannerConfig` fields (``walkers``,
                ``horizon``, ``proposal``, ``noise``, ``epsilon``, ``reward_power``,
                ``distance_power``, ``seed``).

        Raises:
            ValueError: An unknown setting or a bad value.
        """
        from agents.planner import PlannerConfig

        config = PlannerConfig.of(settings)
        return cls(name, "planner", config.to_dict(), payload=callbacks)

    @classmethod
    def from_function(cls, act: Act, name: str) -> Participant:
        """Any function of one role's observations ``[B, n_agents, *obs]`` returning actions
        ``[B, n_agents, *act]`` (a top-level function, so that process pools can pickle it).

        Raises:
            ValueError: ``act`` is not callable.
        """
        if not callable(act):
            raise ValueError(f"from_function takes a callable, got {act!r}")
        label = getattr(act, "__qualname__", type(act).__name__)
        return cls(name, "function", {"function": f"{getattr(act, '__module__', '')}.{label}"}, act)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Participant:
        """The participant :meth:`to_dict` described (heuristic, random, SB3 and EvoTorch
        ones; a module or function is not data and must be passed again).

        Raises:
            ValueError: Not such a description, a module or function participant, or a file
                whose digest differs from the one described.
        """
        if not isinstance(data, Mapping) or "name" not in data or "kind" not in data:
            raise ValueError(f'a participant is described as {{"name", "kind", ...}}, got {data!r}')
        name, kind = data["name"], data["kind"]
        if kind == "heuristic":
            return cls.heuristic(name)
        if kind == "random":
            return cls.random(data.get("seed", 0), name)
        if kind == "planner":
            settings = {k: v for k, v in data.items() if k not in ("name", "kind")}
            return cls.planner(name, **settings)
        if kind == "sb3":
            out = cls.from_sb3(data["path"], data.get("algo"), name)
        elif kind == "evo" and "vector" in data:
            return cls.from_evo(
                vector=data["vector"], policy_kwargs=data.get("policy_kwargs"), name=name
            )
        elif kind == "evo":
            out = cls.from_evo(data["run_dir"], policy_kwargs=data.get("policy_kwargs"), name=name)
        elif kind in ("module", "function"):
            raise ValueError(
                f"participant {name!r} is a {kind} participant: its description is not enough to "
                f"rebuild it; build it again with Participant.from_{kind}"
            )
        else:
            raise ValueError(f"unknown participant kind {kind!r}; kinds: {list(KINDS)}")
        if "sha256" in data and data["sha256"] != out.spec["sha256"]:
            raise ValueError(f"participant {name!r}: its file changed since it was described")
        return out

    # -- data -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., "kind": ..., **spec}``: JSON-ready, what a tournament stores."""
        return {"name": self.name, "kind": self.kind, **json.loads(json.dumps(self.spec))}

    def __repr__(self) -> str:
        return f"Participant({self.name!r}, kind={self.kind!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}  # loaded models are rebuilt where the participant is unpickled
        return state

    # -- playing --------------------------------------------------------------------------------
    def bind(self, env: Any, role: str, seeds: Sequence[int]) -> Act:
        """The policy of ``role`` in the batched worlds ``env``, world ``b`` playing the
        episode seeded ``seeds[b]``: observations ``[B, n_agents, *obs]`` -> actions
        ``[B, n_agents, *act]``.

        Args:
            env: A vector env (:func:`heas_envs.make_vec`, ``Scenario.make_vec``).
            role: The role played.
            seeds: The episode seed of every world (random play draws from them).

        Raises:
            ValueError: A policy that does not fit the role's spaces.
        """
        group = env.groups[role]
        if self.kind == "heuristic":
            return lambda obs: np.asarray(env.heuristic_actions({role: obs})[role])
        if self.kind == "random":
            base = self.spec["seed"]
            generators = [np.random.default_rng([base, int(s)]) for s in seeds]
            space, n = group.action_space, group.n_agents
            return lambda obs: np.stack([sample_actions(space, n, g) for g in generators])
        if self.kind == "function":
            return lambda obs: np.asarray(self._payload(obs))
        if self.kind == "planner":
            from agents.planner import SwarmPlanner

            return SwarmPlanner(env, role, seeds, self.spec, callbacks=self._payload)
        if self.kind == "sb3":
            return self._sb3_act()
        module = self._payload if self.kind == "module" else self._evo_module(group, role)
        return module_act(module)

    def _sb3_act(self) -> Act:
        model = self._cache.get("sb3")
        if model is None:
            import stable_baselines3

            cls = getattr(stable_baselines3, self.spec["algo"])
            model = self._cache["sb3"] = cls.load(self.spec["path"], device="cpu")

        def act(obs: np.ndarray) -> np.ndarray:
            flat = obs.reshape(-1, *obs.shape[2:])
            actions, _ = model.predict(flat, deterministic=True)
            return np.asarray(actions).reshape(*obs.shape[:2], *np.shape(actions)[1:])

        return act

    def _evo_module(self, group: Any, role: str) -> Any:
        import torch

        from agents.policies import MLPPolicy, vector_to_parameters

        key = f"evo:{group.observation_space}:{group.action_space}"
        if key in self._cache:
            return self._cache[key]
        policy = MLPPolicy(
            group.observation_space, group.action_space, **self.spec["policy_kwargs"]
        )
        try:
            if "vector" in self.spec:
                vector_to_parameters(torch.as_tensor(self.spec["vector"]), policy)
            else:
                best = Path(self.spec["run_dir"]) / "best.pt"
                policy.load_state_dict(torch.load(best, map_location="cpu", weights_only=True))
        except (RuntimeError, ValueError) as err:
            raise ValueError(
                f"participant {self.name!r}: the evolved policy does not fit role {role!r} "
                f"(observations {group.observation_space}, actions {group.action_space}): "
                f"{' '.join(str(err).split())}"
            ) from None
        self._cache[key] = policy
        return policy


def parse_participant(text: str) -> Participant:
    """A participant from the command line: ``[NAME=]KIND[:ARG]``.

    ``heuristic``; ``random`` or ``random:SEED``; ``sb3:PATH`` (a model file or run
    directory); ``evo:RUN_DIR``; ``planner`` or ``planner:walkers=32,horizon=10,...``
    (:class:`agents.planner.PlannerConfig` fields; numbers as numbers). ``NAME=`` sets the
    name (default: the kind, ``random`` for random play, ``sb3:<run>`` / ``evo:<run>`` for
    files).

    Raises:
        ValueError: An unknown kind or a bad argument (the message lists the forms).
    """
    forms = (
        "heuristic, random[:SEED], sb3:PATH, evo:RUN_DIR or planner[:KEY=VALUE,...], "
        "optionally NAME= first"
    )
    name, sep, rest = text.partition("=")
    if not sep or ":" in name or "/" in name:
        name, rest = "", text
    kind, _, arg = rest.partition(":")
    if kind == "heuristic" and not arg:
        return Participant.heuristic(name or "heuristic")
    if kind == "random":
        if arg and not arg.isdigit():
            raise ValueError(f"--participant random:SEED takes an integer seed, got {arg!r}")
        return Participant.random(int(arg or 0), name or "random")
    if kind == "sb3" and arg:
        return Participant.from_sb3(arg, name=name or None)
    if kind == "evo" and arg:
        return Participant.from_evo(arg, name=name or None)
    if kind == "planner":
        settings = key_values(
            [item for item in arg.split(",") if item],
            "planner settings",
            strings=True,
            error=ValueError,
        )
        return Participant.planner(name or "planner", **settings)
    raise ValueError(f"unknown participant {text!r}; give {forms}")


def module_act(module: Any) -> Act:
    """A torch module as a policy over all worlds: observations (as float32 tensors on the
    module's device) to its forward's output as a numpy array, without gradients."""
    import torch

    params = next(iter(module.parameters()), None)
    device = params.device if params is not None else torch.device("cpu")

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module(torch.as_tensor(obs, dtype=torch.float32, device=device))
        return out.detach().cpu().numpy()

    return act


def _module_digest(module: Any) -> str:
    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _args_json(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / "args.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
