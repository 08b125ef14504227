#!/usr/bin/env bash
# Rebuilds definitions/pricing/snapshot.json, the price catalogue embedded in ttop for
# machines that never reached the network (and for models a live catalogue dropped).
#
# Usage:
#   scripts/refresh-pricing.sh [--models-dev FILE|URL] [--litellm FILE|URL|pypi[==VERSION]]... [--out FILE]
#
# Sources, in rising priority (a later source replaces a model's entry; models.dev
# entries keep the 1-hour and tier prices an earlier source had, as models.dev has none):
#   1. the current snapshot (so a retired model keeps its last known price and old
#      usage stays priced);
#   2. every --litellm source, in the order given: LiteLLM's
#      model_prices_and_context_window.json (USD per token). `pypi` or `pypi==1.79.3`
#      takes the copy shipped inside the PyPI package `litellm`
#      (litellm/model_prices_and_context_window_backup.json) through `pip download`;
#      a URL is fetched with curl, for example
#      https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json
#   3. --models-dev: the models.dev catalogue (https://models.dev/api.json, USD per
#      million tokens), the same one ttop fetches at run time.
# With no source given, `--litellm pypi` is used.
#
# The output has the models.dev shape {provider: {models: {model: {cost: {...}}}}},
# filtered to chat models of the providers in PROVIDERS below, plus the extensions ttop
# reads (definitions/pricing/README.md): cost.cache_write_1h and cost.tiers.
# Needs bash, python3, and pip or curl for remote sources.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/definitions/pricing/snapshot.json"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

LITELLM=()
MODELS_DEV=""
while [ $# -gt 0 ]; do
  case "$1" in
    --litellm) LITELLM+=("$2"); shift 2 ;;
    --models-dev) MODELS_DEV="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "refresh-pricing: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [ ${#LITELLM[@]} -eq 0 ] && [ -z "$MODELS_DEV" ]; then
  LITELLM=(pypi)
fi

# Turns a source argument into a local file.
fetch() {
  local src="$1" name="$2"
  case "$src" in
    pypi|pypi==*)
      local spec="litellm${src#pypi}"
      pip download --quiet --no-deps "$spec" -d "$WORK/$name" >&2
      local wheel
      wheel="$(ls "$WORK/$name"/litellm-*.whl | head -n 1)"
      unzip -q -o "$wheel" 'litellm/model_prices_and_context_window_backup.json' -d "$WORK/$name"
      echo "$WORK/$name/litellm/model_prices_and_context_window_backup.json"
      ;;
    http://*|https://*)
      curl -fsSL --max-time 60 "$src" -o "$WORK/$name.json"
      echo "$WORK/$name.json"
      ;;
    *) echo "$src" ;;
  esac
}

# The label a source gets in the snapshot's "_snapshot.sources".
label() {
  case "$1" in
    pypi) echo "PyPI litellm $(ls "$WORK/$2"/litellm-*.whl | head -n 1 | sed 's/.*litellm-\([^-]*\)-.*/\1/')" ;;
    pypi==*) echo "PyPI litellm ${1#pypi==}" ;;
    *) echo "$1" ;;
  esac
}

# Triples: kind, local file, label.
ARGS=()
if [ -f "$OUT" ]; then
  ARGS+=(snapshot "$OUT" "previous snapshot")
fi
i=0
for src in "${LITELLM[@]}"; do
  file="$(fetch "$src" "litellm$i")"
  ARGS+=(litellm "$file" "$(label "$src" "litellm$i") (LiteLLM shape)")
  i=$((i + 1))
done
if [ -n "$MODELS_DEV" ]; then
  ARGS+=(models-dev "$(fetch "$MODELS_DEV" models-dev)" "$MODELS_DEV (models.dev shape)")
fi

python3 - "$OUT" "${ARGS[@]}" <<'PY'
import json
import sys
from datetime import datetime, timezone

# LiteLLM provider -> models.dev provider id, for the providers the snapshot keeps.
PROVIDERS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "gemini": "google",
    "xai": "xai",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "moonshot": "moonshotai",
    "zai": "zai",
}
MODES = {"chat", "responses"}
M = 1_000_000


def per_million(value):
    """USD per token -> USD per million tokens, without float noise."""
    return None if value is None else float(f"{value * M:.10g}")


def rates(entry, suffix=""):
    out = {}
    for key, field in (
        ("input", "input_cost_per_token"),
        ("output", "output_cost_per_token"),
        ("cache_read", "cache_read_input_token_cost"),
        ("cache_write", "cache_creation_input_token_cost"),
    ):
        value = entry.get(field + suffix)
        if isinstance(value, (int, float)):
            out[key] = per_million(value)
    return out


def from_litellm(data):
    providers = {}
    for key, entry in data.items():
        if not isinstance(entry, dict):
            continue
        provider = PROVIDERS.get(entry.get("litellm_provider"))
        if provider is None or entry.get("mode") not in MODES:
            continue
        cost = rates(entry)
        if "input" not in cost or "output" not in cost:
            continue
        model = key.split("/", 1)[1] if key.startswith(entry["litellm_provider"] + "/") else key
        one_hour = entry.get("cache_creation_input_token_cost_above_1hr")
        if isinstance(one_hour, (int, float)):
            one_hour = per_million(one_hour)
            # Anthropic bills a 1-hour cache write at twice the input price; LiteLLM has
            # a few entries that say otherwise (copy-paste errors). Those are dropped so
            # ttop falls back to the rule in pricing.toml.
            if provider == "anthropic" and abs(one_hour - 2 * cost["input"]) > 1e-9:
                print(f"note: {key}: 1h cache write {one_hour} is not 2x input; dropped", file=sys.stderr)
            else:
                cost["cache_write_1h"] = one_hour
        long = rates(entry, "_above_200k_tokens")
        if long:
            cost["context_over_200k"] = long
        tiers = {}
        priority = rates(entry, "_priority")
        if "input" in priority and "output" in priority:
            tiers["priority"] = priority
        fast = (entry.get("provider_specific_entry") or {}).get("fast")
        if isinstance(fast, (int, float)) and fast > 0:
            tiers["fast"] = {"multiplier": float(fast)}
        if tiers:
            cost["tiers"] = tiers
        models = providers.setdefault(provider, {"id": provider, "models": {}})["models"]
        models[model] = {"id": model, "cost": cost}
    return providers


def from_models_dev(data):
    providers = {}
    for provider, body in data.items():
        if not isinstance(body, dict) or not isinstance(body.get("models"), dict):
            continue
        if provider not in PROVIDERS.values():
            continue
        for model, entry in body["models"].items():
            cost = entry.get("cost") if isinstance(entry, dict) else None
            if not isinstance(cost, dict) or "input" not in cost or "output" not in cost:
                continue
            keep = {k: cost[k] for k in ("input", "output", "cache_read", "cache_write", "context_over_200k") if k in cost}
            providers.setdefault(provider, {"id": provider, "models": {}})["models"][model] = {"id": model, "cost": keep}
    return providers


out_path, args = sys.argv[1], sys.argv[2:]
merged = {}
sources = []
for kind, path, label in zip(args[0::3], args[1::3], args[2::3]):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if kind == "snapshot":
        part = {p: b for p, b in data.items() if isinstance(b, dict) and "models" in b}
        sources.extend(s for s in data.get("_snapshot", {}).get("sources", []) if s not in sources)
    elif kind == "litellm":
        part = from_litellm(data)
        sources.append(label)
    else:
        part = from_models_dev(data)
        sources.append(label)
    for provider, body in part.items():
        target = merged.setdefault(provider, {"id": provider, "models": {}})
        for model, entry in body["models"].items():
            old = target["models"].get(model)
            # models.dev has no 1-hour or tier prices: keep the ones an earlier source had.
            if kind == "models-dev" and old is not None:
                for extension in ("cache_write_1h", "tiers"):
                    if extension in old["cost"] and extension not in entry["cost"]:
                        entry["cost"][extension] = old["cost"][extension]
            target["models"][model] = entry

document = {
    "_snapshot": {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "sources": sources,
        "note": "USD per million tokens; rebuilt by scripts/refresh-pricing.sh",
    }
}
for provider in sorted(merged):
    models = merged[provider]["models"]
    document[provider] = {"id": provider, "models": {m: models[m] for m in sorted(models)}}
with open(out_path, "w", encoding="utf-8") as f:
    json.dump(document, f, indent=1, sort_keys=False)
    f.write("\n")
count = sum(len(b["models"]) for p, b in document.items() if p != "_snapshot")
print(f"wrote {out_path}: {count} models of {len(document) - 1} providers", file=sys.stderr)
PY
