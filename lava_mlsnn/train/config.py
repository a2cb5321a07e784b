"""Run configuration of ``lava-mlsnn train``: defaults, YAML files, ``--set`` overrides.

A configuration is a two-level mapping ``section -> key -> value`` (see
:data:`DEFAULTS`, mirrored by ``lava_mlsnn/configs/default.yaml``). A YAML file
gives any subset of it; ``--set section.key=value`` overrides one key, the value
parsed as YAML (``--set model.channels=[8,16]``, ``--set quant.weight_bits=null``).
Every key is checked: an unknown key or a value of the wrong type or range raises
:class:`ConfigError` with one line naming the key, the rule and the value.
"""
from __future__ import annotations

import copy
import difflib
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import yaml

from .._io import UnsafePathError, atomic_write, check_input_file
from .._limits import MAX_YAML_BYTES, UnsafeYAMLError, finite, load_yaml, short

# literal copies of lava_mlsnn.data's names: this module loads without numpy or torch
DATASETS = ("digits", "motion_digits", "dvsgesture", "nmnist", "cifar10dvs")
EMBEDDED = ("digits", "motion_digits")  # rendered here: no files, no data.root
ARCHS = ("convnet", "sparse_resnet", "sew_resnet", "spiking_resnet", "iand_resnet",
         "vgg11", "vgg16", "vggsnn", "resnet18", "resnet19")
JOINS = ("sparse", "sew", "iand", "spiking", "ms")  # ms (MS-ResNet) is refused at build

DEFAULTS: Dict[str, Dict[str, Any]] = {
    "data": {
        "dataset": "digits",     # digits | motion_digits (embedded) | dvsgesture | nmnist
                                 # | cifar10dvs | any registered or tonic.datasets name
        "root": None,            # folder holding tonic's data set folders (not for digits)
        "timesteps": 1,          # T: count frames per sample
        "input_levels": 7,       # counts clipped to [0, input_levels] (file inputLevels)
        "size": None,            # [W, H] spatial downsampling target; null: sensor size
        "val_fraction": 0.1,     # share of each class of train held out for model selection
        "split_seed": 0,
        "first_saccade_only": False,  # N-MNIST: only the first of the three saccades
        "limit": None,           # at most this many samples per split (quick runs, tests)
        "cache": True,           # framed-tensor cache (frame each sample once)
        "cache_dir": None,       # null: <run dir>/frames; share one folder between runs
        "workers": 0,            # DataLoader worker processes
    },
    "model": {
        "arch": "convnet",       # convnet | sparse/sew/spiking/iand_resnet | vgg11 | vgg16
                                 # | vggsnn | resnet18 | resnet19
        "levels": 4,             # N of the multi-level neurons (1: binary spikes)
        "channels": [16, 32],    # convnet: two conv widths; resnets: one width per stage
        "hidden": 64,            # convnet: width of the dense layer
        "blocks_per_stage": 2,   # resnets
        "join": "sparse",        # resnet18/19: sparse | sew | iand | spiking (ms: refused)
        "width": 1.0,            # vgg*, resnet18/19: channel multiplier
        "stem_stride": 2,        # resnet18/19: stride of the stem conv
        "barrier": "block",      # sparse joins: barrier after every add | stage | shortcut
        "barrier_ste": "identity",  # sparse joins: barrier backward, identity | clipped
        "barrier_levels": None,  # sparse/iand joins: N_b (null: model.levels)
        "barrier_threshold": None,  # sparse joins, barrier=block: initial barrier threshold
    },
    "neuron": {
        "threshold": 1.0,
        "v_init": 0.5,           # initial membrane in thresholds (0.5: round to nearest)
        "voltage_decay": 0.0,    # leak per step, fraction (0: IF)
        "surrogate": "ste",      # ste | sigmoid
    },
    "quant": {
        "weight_bits": None,     # 1, 2, 4 or 8 for hidden layers; null: free 8-bit export
        "membrane_bits": 0,      # static membrane quantization (0: off, else 2..24)
        "wsdr": False,           # WS-DR spike-entropy regularizer
        "wsdr_lambda": 5.0e-3,
        "standardize": True,     # 1-bit weights: WS-DR's weight half (signs of standardized w)
        "binary_unit": "standardized",  # 1-bit unit from the standardized (Q-SNN) or raw weights
    },
    "activity": {
        "regularizer": None,     # null | l1 (payload L1) | rate (firing-rate target)
        "lambda": 1.0e-2,
        "target": 0.05,          # rate: the target level occupancy z / N per layer
    },
    "optim": {
        "optimizer": "adam",     # adam | adamw | sgd
        "lr": 3.0e-3,
        "weight_decay": 0.0,
        "momentum": 0.9,         # sgd only
        "schedule": "cosine",    # cosine | step | constant
        "step_size": 10,         # step schedule: epochs between decays
        "gamma": 0.1,            # step schedule: decay factor
        "epochs": 8,
        "batch_size": 32,        # per process (torchrun: the global batch is K times this)
        "eval_batch_size": 256,
    },
    "train": {
        "seed": 0,
        "device": "auto",        # auto (cuda when available, else cpu) | cpu | cuda | cuda:N
        "tensorboard": False,    # also write TensorBoard scalars to <run dir>/tensorboard
    },
    "output": {
        "dir": None,             # run directory; null: <root>/<dataset>-<arch>-<time>
        "root": "runs",
    },
}


class ConfigError(ValueError):
    """A bad configuration file, key or value (reported in one line)."""


# ---------------------------------------------------------------- value rules
Rule = Callable[[Any], Optional[str]]  # returns why the value is wrong, or None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def integer(lo: Optional[int] = None, hi: Optional[int] = None, null: bool = False) -> Rule:
    def rule(v: Any) -> Optional[str]:
        if v is None and null:
            return None
        if not _is_int(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f" in {lo}..{hi}" if lo is not None and hi is not None else \
                (f" >= {lo}" if lo is not None else "")
            return f"must be an integer{rng}{' or null' if null else ''}"
        return None
    return rule


def number(lo: float, hi: float, lo_open: bool = False, null: bool = False) -> Rule:
    def rule(v: Any) -> Optional[str]:
        if v is None and null:
            return None
        if not finite(v) or v > hi or v < lo or (lo_open and v == lo):
            return (f"must be a number in {'(' if lo_open else '['}{lo}, {hi}]"
                    f"{' or null' if null else ''}")
        return None
    return rule


def choice(*options: Any) -> Rule:
    def rule(v: Any) -> Optional[str]:
        return None if v in options else f"must be one of {', '.join(map(str, options))}"
    return rule


def dataset(v: Any) -> Optional[str]:
    from ..data.registry import is_dataset
    if isinstance(v, str) and is_dataset(v):
        return None
    return (f"must be one of {', '.join(DATASETS)}, a registered data set or a "
            "tonic.datasets class name")


def boolean(v: Any) -> Optional[str]:
    return None if isinstance(v, bool) else "must be true or false"


def text(null: bool = False) -> Rule:
    def rule(v: Any) -> Optional[str]:
        if (v is None and null) or (isinstance(v, str) and v):
            return None
        return f"must be a non-empty string{' or null' if null else ''}"
    return rule


def int_list(length: Optional[int] = None, null: bool = False) -> Rule:
    def rule(v: Any) -> Optional[str]:
        if v is None and null:
            return None
        ok = isinstance(v, (list, tuple)) and 0 < len(v) <= MAX_LIST and \
            all(_is_int(x) and 0 < x <= MAX_WIDTH for x in v)
        if not ok or (length is not None and len(v) != length):
            n = f"{length} " if length else f"at most {MAX_LIST} "
            return (f"must be a list of {n}integers in 1..{MAX_WIDTH}"
                    f"{' or null' if null else ''}")
        return None
    return rule


def device(v: Any) -> Optional[str]:
    if v in ("auto", "cpu", "cuda") or (isinstance(v, str) and v.startswith("cuda:")
                                        and v[5:].isdigit()):
        return None
    return "must be auto, cpu, cuda or cuda:N"


MAX_WIDTH = 1 << 16   # channels / features of one layer (the file format's MAX_DIM)
MAX_BATCH = 1 << 16   # samples per batch
MAX_COUNT = 10 ** 9   # samples per split (data.limit)
MAX_LIST = 64         # entries of a list value (model.channels)

RULES: Dict[str, Dict[str, Rule]] = {
    "data": {"dataset": dataset, "root": text(null=True),
             "timesteps": integer(1, 1024), "input_levels": integer(1, 2 ** 23 - 1),
             "size": int_list(2, null=True), "val_fraction": number(0.0, 0.5),
             "split_seed": integer(0, 2 ** 32 - 1), "first_saccade_only": boolean,
             "limit": integer(1, MAX_COUNT, null=True), "cache": boolean,
             "cache_dir": text(null=True), "workers": integer(0, 64)},
    "model": {"arch": choice(*ARCHS), "levels": integer(1, 255), "channels": int_list(),
              "hidden": integer(1, MAX_WIDTH), "blocks_per_stage": integer(1, 16),
              "join": choice(*JOINS), "width": number(0.0, 64.0, lo_open=True),
              "stem_stride": integer(1, 4), "barrier": choice("block", "stage", "shortcut"),
              "barrier_ste": choice("identity", "clipped"),
              "barrier_levels": integer(1, 255, null=True),
              "barrier_threshold": number(0.0, 1e6, lo_open=True, null=True)},
    "activity": {"regularizer": choice(None, "l1", "rate"), "lambda": number(0.0, 1e3),
                 "target": number(0.0, 1.0)},
    "neuron": {"threshold": number(0.0, 1e6, lo_open=True), "v_init": number(0.0, 1.0),
               "voltage_decay": number(0.0, 1.0), "surrogate": choice("ste", "sigmoid")},
    "quant": {"weight_bits": choice(None, 1, 2, 4, 8), "membrane_bits": choice(0, *range(2, 25)),
              "wsdr": boolean, "wsdr_lambda": number(0.0, 1e3), "standardize": boolean,
              "binary_unit": choice("standardized", "raw")},
    "optim": {"optimizer": choice("adam", "adamw", "sgd"), "lr": number(0.0, 10.0, True),
              "weight_decay": number(0.0, 1.0), "momentum": number(0.0, 1.0),
              "schedule": choice("cosine", "step", "constant"), "step_size": integer(1, 100000),
              "gamma": number(0.0, 1.0, True), "epochs": integer(1, 100000),
              "batch_size": integer(1, MAX_BATCH), "eval_batch_size": integer(1, MAX_BATCH)},
    "train": {"seed": integer(0, 2 ** 31 - 1), "device": device, "tensorboard": boolean},
    "output": {"dir": text(null=True), "root": text()},
}
assert RULES.keys() == DEFAULTS.keys() and all(RULES[s].keys() == DEFAULTS[s].keys()
                                               for s in DEFAULTS)


def _suggest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_key(section: str, key: Optional[str], where: str) -> None:
    if section not in DEFAULTS:
        raise ConfigError(f"{where}: unknown section {section!r}{_suggest(section, DEFAULTS)}; "
                          f"sections: {', '.join(DEFAULTS)}")
    if key is not None and key not in DEFAULTS[section]:
        raise ConfigError(f"{where}: unknown key {section}.{key}"
                          f"{_suggest(key, DEFAULTS[section])}; {section} has "
                          f"{', '.join(DEFAULTS[section])}")


def merge(config: Dict[str, Dict[str, Any]], update: Any, where: str) -> None:
    """Merge a parsed YAML mapping into ``config`` in place (keys checked, values not yet)."""
    if update is None:
        return
    if not isinstance(update, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {type(update).__name__}")
    for section, values in update.items():
        _check_key(str(section), None, where)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: section {section!r} must be a mapping of keys")
        for key, value in values.items():
            _check_key(section, str(key), where)
            config[section][key] = value


def parse_override(item: str) -> Tuple[str, str, Any]:
    """``'section.key=value'`` -> ``(section, key, value parsed as YAML)``."""
    if "=" not in item or "." not in item.split("=", 1)[0]:
        raise ConfigError(f"--set {item!r}: expected section.key=value (e.g. optim.epochs=3)")
    name, raw = item.split("=", 1)
    section, key = name.strip().split(".", 1)
    _check_key(section, key, f"--set {name.strip()}")
    try:
        value = load_yaml(raw.encode("utf-8", "surrogateescape"), f"--set {name.strip()}") \
            if raw.strip() else None
    except UnsafeYAMLError as err:
        raise ConfigError(str(err)) from None
    except yaml.YAMLError:
        raise ConfigError(f"--set {name.strip()}: cannot parse value {short(raw)}") from None
    return section, key, value


def validate(config: Dict[str, Dict[str, Any]]) -> None:
    """Check every value and the combinations that cannot work; raise :class:`ConfigError`."""
    for section, rules in RULES.items():
        for key, rule in rules.items():
            why = rule(config[section][key])
            if why:
                raise ConfigError(f"config: {section}.{key} {why}, got "
                                  f"{short(config[section][key])}")
    _check_paths(config)
    data, model, quant = config["data"], config["model"], config["quant"]
    if data["first_saccade_only"] and data["dataset"].lower().replace("-", "") != "nmnist":
        raise ConfigError("config: data.first_saccade_only applies to data.dataset=nmnist only")
    if data["dataset"] not in EMBEDDED and not data["root"]:
        raise ConfigError(f"config: data.root is required for data.dataset={data['dataset']} "
                          "(the folder holding tonic's data set folders)")
    if model["arch"] == "convnet" and len(model["channels"]) != 2:
        raise ConfigError(f"config: model.channels must hold 2 widths for the convnet, got "
                          f"{model['channels']!r}")
    if model["arch"] == "spiking_resnet" and quant["weight_bits"] not in (None, 8):
        raise ConfigError("config: quant.weight_bits below 8 is not supported for "
                          "spiking_resnet (use sparse_resnet or sew_resnet)")
    if model["arch"] in ("resnet18", "resnet19") and model["join"] == "ms":
        raise ConfigError("config: model.join=ms: MS-ResNet is not deployable (its shortcut "
                          "adds membrane potentials, which a Loihi neuron cannot send)")
    _check_join(model)
    if quant["weight_bits"] != 1:
        for key, default in (("standardize", True), ("binary_unit", "standardized")):
            if quant[key] != default:
                raise ConfigError(f"config: quant.{key} applies to 1-bit weights only "
                                  f"(quant.weight_bits=1), got quant.weight_bits="
                                  f"{quant['weight_bits']}")
    if quant["membrane_bits"] and quant["membrane_bits"] < 3:
        raise ConfigError("config: quant.membrane_bits must be 0 or in 3..24 (2 bits cannot "
                          "hold the +-4-threshold range)")


#: Folders the configuration names: (section, key, what it must be)
FOLDER_KEYS = (("output", "root"), ("output", "dir"), ("data", "cache_dir"), ("data", "root"))
PSEUDO_FS = ("/proc", "/sys", "/dev")


def _check_paths(config: Dict[str, Dict[str, Any]]) -> None:
    """A folder key naming an existing non-directory, or a pseudo file system, is refused
    here rather than when the run first writes there."""
    for section, key in FOLDER_KEYS:
        value = config[section][key]
        if not value:
            continue
        path = os.path.abspath(os.path.expanduser(value))
        if os.path.exists(path) and not os.path.isdir(path):
            raise ConfigError(f"config: {section}.{key} {short(value)} exists and is not a "
                              "directory")
        if key != "root" or section == "output":
            real = os.path.realpath(path)
            if any(real == p or real.startswith(p + os.sep) for p in PSEUDO_FS):
                raise ConfigError(f"config: {section}.{key} {short(value)} is on a pseudo "
                                  f"file system ({', '.join(PSEUDO_FS)}); give a real folder")


JOIN_KEYS = {"barrier": "block", "barrier_ste": "identity", "barrier_levels": None,
             "barrier_threshold": None}  # model.* keys of the residual joins -> default
ARCH_KINDS = {"sparse_resnet": "sparse", "sew_resnet": "sew", "spiking_resnet": "spiking",
              "iand_resnet": "iand"}


def _check_join(model: Dict[str, Any]) -> None:
    """A join option the architecture would not use is refused, not ignored."""
    kind = ARCH_KINDS.get(model["arch"]) or \
        (model["join"] if model["arch"] in ("resnet18", "resnet19") else None)
    if kind is None:
        for key, default in JOIN_KEYS.items():
            if model[key] != default:
                raise ConfigError(f"config: model.{key} applies to the residual nets only, "
                                  f"not to model.arch={model['arch']}")
        return
    if kind == "ms":
        return  # refused above with its own reason
    from ..models.papers import check_join_options
    try:
        check_join_options(kind, **{k: model[k] for k in JOIN_KEYS})
    except ValueError as err:
        raise ConfigError(f"config: model.{err} (model.arch={model['arch']})") from None


CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


def config_file(name: str) -> str:
    """A ``--config`` argument as a path: an existing file, else a configuration shipped
    with the package by name (``digits``, ``nmnist``, ``papers/qsnn_vgg11_cifar10dvs``...:
    :func:`shipped_configs` lists them). Anything else is returned as given (and then
    reported missing by :func:`resolve`)."""
    if os.path.isfile(name):
        return name
    rel = name if name.endswith(".yaml") else f"{name}.yaml"
    shipped = os.path.normpath(os.path.join(CONFIG_DIR, *rel.split("/")))
    inside = shipped.startswith(os.path.join(CONFIG_DIR, ""))
    return shipped if inside and not os.path.isabs(name) and os.path.isfile(shipped) else name


def shipped_configs() -> List[Tuple[str, str]]:
    """The configurations shipped with the package: ``(name, first comment line)``, the
    name as ``--config`` takes it (``papers/...`` for the paper reproductions)."""
    out = []
    for folder, _, files in sorted(os.walk(CONFIG_DIR)):
        for fname in sorted(files):
            if not fname.endswith(".yaml"):
                continue
            path = os.path.join(folder, fname)
            rel = os.path.relpath(path, CONFIG_DIR)[:-len(".yaml")].replace(os.sep, "/")
            with open(path) as f:
                first = f.readline().strip()
            out.append((rel, first.lstrip("#").strip() if first.startswith("#") else ""))
    return out


def resolve(files: Sequence[str] = (), overrides: Sequence[str] = ()) -> Dict[str, Dict[str, Any]]:
    """Defaults, then each YAML file in order, then each ``section.key=value`` override.

    Raises
    ------
    ConfigError
        Missing or unparsable file, unknown key, bad value.
    """
    config = copy.deepcopy(DEFAULTS)
    for path in files:
        if not os.path.isfile(path):
            raise ConfigError(f"{path}: no such config file or shipped configuration (the "
                              "shipped ones: lava-mlsnn configs)")
        try:
            check_input_file(path)
            with open(path, "rb") as f:
                loaded = load_yaml(f.read(MAX_YAML_BYTES + 1), path)
        except (UnsafePathError, UnsafeYAMLError) as err:
            raise ConfigError(str(err)) from None
        except OSError as err:
            raise ConfigError(f"{path}: cannot read ({err.strerror or err})") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}: not valid YAML{at}") from None
        merge(config, loaded, path)
    for item in overrides:
        section, key, value = parse_override(item)
        config[section][key] = value
    for section in ("model",):  # YAML lists arrive as lists; keep tuples out of the dump
        config[section]["channels"] = list(config[section]["channels"]) \
            if isinstance(config[section]["channels"], tuple) else config[section]["channels"]
    validate(config)
    return config


def dump(config: Dict[str, Dict[str, Any]], path: str) -> None:
    """Write the resolved configuration as YAML (atomically)."""
    text = yaml.safe_dump(config, sort_keys=False)
    atomic_write(path, lambda f: f.write(text.encode()))


def load_resolved(path: str) -> Dict[str, Dict[str, Any]]:
    """Read a run's ``config.yaml`` back, validated against the current schema."""
    return resolve([path])


def override_keys(overrides: Sequence[str]) -> List[str]:
    """``section.key`` names of ``--set`` items (for checks on what may change)."""
    return [".".join(parse_override(item)[:2]) for item in overrides]
