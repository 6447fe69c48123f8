"""What classification costs: the corpus's TODO items through classify, the real anthropic SDK
and the project's fake Messages API.

    python benchmarks/cost.py [--model claude-haiku-5-5] [--json]

What it does:

* copies every file of ../shared/corpus/todo-md/ into a scratch git repo as its own TODO.md,
  scans it with `autodo_scan`, dispatches every item, and runs the classify stage on each
  (on a scratch SQLite database; rules first, the LLM only for what the rules cannot place);
* the fake answers each classify call with a plausible classification and reports usage the
  way the API does: tokens ≈ characters / 4 (helmq.llm.pricing.CHARS_PER_TOKEN), the
  `cache_control` system block read from the cache after its first write, but only when it is
  at least the model's minimum cacheable length (4,096 tokens for Haiku models, 1,024 for the
  others; a shorter block is billed as plain input, as the API does);
* prints the share of items placed with no call, calls per item, input/output tokens per call
  and the cost per item at the dated price table's rates (helmq.llm.pricing), with the prompt
  cache as the API would apply it and as if every call missed it;
* rescans the corpus and classifies every item again: the classification cache (the answer
  kept with the item, keyed by its content) must make that zero calls.

Goals (issue 4): ≤ $0.002 per item classified at the configured classify model's price;
0 calls on rescan. Exit 0 when both hold.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_anthropic import FakeAnthropic, Usage, json_reply  # noqa: E402

from helmq.config.jobs import load_jobs  # noqa: E402
from helmq.config.settings import Settings  # noqa: E402
from helmq.control.dispatch import dispatch_tick  # noqa: E402
from helmq.control.scan import scan_jobs  # noqa: E402
from helmq.discovery.registry import STRATEGIES  # noqa: E402
from helmq.domain.model import Stage  # noqa: E402
from helmq.llm.client import DEFAULT_MODELS  # noqa: E402
from helmq.llm.pricing import CHARS_PER_TOKEN, TokenUsage, cost  # noqa: E402
from helmq.runtime import stage_context  # noqa: E402
from helmq.stages.classify import classify  # noqa: E402
from helmq.stages.runner import run_stage  # noqa: E402
from helmq.store.engine import make_engine, upgrade  # noqa: E402
from helmq.store.repository import Repository  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "todo-md"
GOAL_USD_PER_ITEM = Decimal("0.002")
KINDS = (("test", "test"), ("doc", "docs"), ("readme", "docs"), ("refactor", "refactor"),
         ("bug", "bug"), ("fix", "bug"), ("add", "feature"), ("support", "feature"))


def min_cacheable(model: str) -> int:
    """The API's minimum cacheable prompt length for `model`, in tokens."""
    return 4096 if "haiku" in model else 1024


def tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


@dataclass
class Tally:
    """Usage of the classify calls, as billed with the prompt cache and as if it missed."""

    calls: int = 0
    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0
    cached_usd: Decimal = Decimal(0)
    uncached_usd: Decimal = Decimal(0)
    models: set[str] = field(default_factory=set)
    system_tokens: int = 0


def answer(tally: Tally, cached: set[str]):
    """The fake's reply to one classify call: a classification, and usage as billed."""

    def reply(body: dict):
        model = body["model"]
        system = body.get("system") or []
        blocks = system if isinstance(system, list) else [{"text": system}]
        prefix = "".join(b["text"] for b in blocks if b.get("cache_control"))
        rest = "".join(b["text"] for b in blocks if not b.get("cache_control"))
        rest += json.dumps(body["messages"]) + json.dumps(body.get("output_config") or {})
        text = json.dumps(body["messages"]).lower()
        kind = next((k for word, k in KINDS if word in text), "chore")
        data = {"tier": "llm_call" if kind in ("docs", "test") else "claude_session",
                "check": None, "type": kind, "risk": "low" if kind in ("docs", "test") else
                "medium", "effort": "S" if kind in ("docs", "test") else "M",
                "plan": "Find the code the item names, make the smallest change that settles "
                        "it, keep the style of the file, and check it with the project's tests "
                        "or by reading the rendered docs."}
        out = json.dumps(data)
        pre, plain, produced = tokens(prefix), tokens(rest), tokens(out)
        usage = Usage(input_tokens=plain, output_tokens=produced)
        if pre >= min_cacheable(model):
            key = f"{model}\x1f{prefix}"
            if key in cached:
                usage = Usage(input_tokens=plain, output_tokens=produced,
                              cache_read_input_tokens=pre)
            else:
                cached.add(key)
                usage = Usage(input_tokens=plain, output_tokens=produced,
                              cache_creation_input_tokens=pre)
        else:
            usage = Usage(input_tokens=plain + pre, output_tokens=produced)
        billed = TokenUsage(usage.input_tokens, usage.output_tokens,
                            usage.cache_creation_input_tokens, usage.cache_read_input_tokens)
        missed = TokenUsage(plain + pre, produced, 0, 0)
        tally.calls += 1
        tally.input += billed.input_tokens
        tally.output += billed.output_tokens
        tally.cache_write += billed.cache_creation_input_tokens
        tally.cache_read += billed.cache_read_input_tokens
        tally.cached_usd += cost(model, billed) or Decimal(0)
        tally.uncached_usd += cost(model, missed) or Decimal(0)
        tally.models.add(model)
        tally.system_tokens = pre
        return json_reply(data, usage=usage)

    return reply


def build_repo(work: Path) -> Path:
    """A git repo holding each corpus file as <name>/TODO.md."""
    repo = work / "corpus"
    for src in sorted(CORPUS.glob("*.md")):
        dest = repo / src.stem / "TODO.md"
        dest.parent.mkdir(parents=True)
        shutil.copyfile(src, dest)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                  "commit", "-q", "-m", "corpus"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    return repo


def run(model: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="helmq-cost-") as tmp:
        work = Path(tmp)
        repo_dir = build_repo(work)
        config = work / "jobs.yaml"
        config.write_text("budget: {daily_usd: 100.0, per_item_usd: 1.0}\njobs:\n  maint:\n"
                          "    discovery: {strategy: autodo_scan}\n"
                          "    eligibility: {require_user_idle_minutes: 0}\n",
                          encoding="utf-8")
        jobs = load_jobs(config, strategies=STRATEGIES)
        tally, cached = Tally(), set()
        with FakeAnthropic(work / "requests.jsonl") as fake:
            fake.when(contains="You classify maintenance work items", reply=answer(tally, cached))
            db_url = f"sqlite:///{work / 'helmq.db'}"
            engine = make_engine(db_url)
            upgrade(engine)
            repo = Repository(engine)
            settings = Settings(
                state_dir=work / "state", database_url=db_url, broker_url="memory://",
                config_path=config, last_active_path=work / "last_active.json",
                anthropic_api_key="sk-ant-bench", anthropic_base_url=fake.url,
                models={"classify": model}, max_in_flight=100_000)
            ctx = stage_context(settings, engine=engine, jobs=jobs)
            [scanned] = scan_jobs(repo, jobs, repos=[repo_dir])
            tick = dispatch_tick(repo, jobs, settings, ignore_idle=True)
            for d in tick.dispatched:
                run_stage(repo, settings, ctx, Stage.CLASSIFY, d.handoff)
            items = repo.list_items(jobs=["maint"])
            by_rules = sum((i.data.get("classify") or {}).get("by") == "rules" for i in items)
            by_llm = sum((i.data.get("classify") or {}).get("by") == "llm" for i in items)
            first_calls = tally.calls

            # The rescan, then every item classified again: the kept answers serve them all.
            scan_jobs(repo, jobs, repos=[repo_dir])
            for item in repo.list_items(jobs=["maint"]):
                if item.data.get("classify"):
                    classify(item, ctx)
            rescan_calls = tally.calls - first_calls
            engine.dispose()
    classified = by_rules + by_llm
    per_item = (tally.cached_usd / classified) if classified else Decimal(0)
    per_llm_item = (tally.cached_usd / by_llm) if by_llm else Decimal(0)
    return {
        "model": model,
        "items_found": scanned.counts.new,
        "dispatched": len(tick.dispatched),
        "classified": classified,
        "by_rules": by_rules,
        "by_llm": by_llm,
        "share_without_call": round(by_rules / classified, 3) if classified else None,
        "calls": first_calls,
        "calls_per_item": round(first_calls / classified, 3) if classified else None,
        "system_prompt_tokens": tally.system_tokens,
        "min_cacheable_tokens": min_cacheable(model),
        "input_tokens_per_call": round(tally.input / first_calls, 1) if first_calls else 0,
        "cache_read_tokens_per_call": round(tally.cache_read / first_calls, 1)
        if first_calls else 0,
        "output_tokens_per_call": round(tally.output / first_calls, 1) if first_calls else 0,
        "usd_total_with_prompt_cache": float(tally.cached_usd),
        "usd_total_without_prompt_cache": float(tally.uncached_usd),
        "usd_per_item": float(per_item),
        "usd_per_llm_classified_item": float(per_llm_item),
        "usd_per_llm_item_without_prompt_cache":
            float(tally.uncached_usd / by_llm) if by_llm else 0.0,
        "rescan_calls": rescan_calls,
        "goal_usd_per_item": float(GOAL_USD_PER_ITEM),
        "pass_cost": per_llm_item <= GOAL_USD_PER_ITEM,
        "pass_rescan": rescan_calls == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--model", action="append",
                        help=f"classify model (default: {DEFAULT_MODELS['classify']}; repeat "
                             "to compare, e.g. --model claude-haiku-4-5)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    results = [run(m) for m in (args.model or [DEFAULT_MODELS["classify"]])]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            print(f"model {r['model']}: {r['items_found']} items found in "
                  f"{len(list(CORPUS.glob('*.md')))} corpus files, {r['classified']} classified")
            print(f"  placed by rules, no call: {r['by_rules']} "
                  f"({r['share_without_call']:.1%}); by the LLM: {r['by_llm']}")
            print(f"  calls: {r['calls']} ({r['calls_per_item']:.2f} per item); per call: "
                  f"{r['input_tokens_per_call']:.0f} input + {r['cache_read_tokens_per_call']:.0f}"
                  f" cache-read + {r['output_tokens_per_call']:.0f} output tokens")
            cache_note = ("cached" if r["system_prompt_tokens"] >= r["min_cacheable_tokens"]
                          else "below the minimum, so billed as plain input")
            print(f"  system prompt: {r['system_prompt_tokens']} tokens (min cacheable "
                  f"{r['min_cacheable_tokens']}: {cache_note})")
            print(f"  cost: ${r['usd_total_with_prompt_cache']:.5f} in all; "
                  f"${r['usd_per_llm_classified_item']:.6f} per LLM-classified item "
                  f"(${r['usd_per_llm_item_without_prompt_cache']:.6f} if every call missed "
                  f"the prompt cache); ${r['usd_per_item']:.6f} per item overall")
            print(f"  goal ≤ ${r['goal_usd_per_item']} per item classified: "
                  f"{'PASS' if r['pass_cost'] else 'FAIL'}")
            print(f"  rescan + classify again: {r['rescan_calls']} calls: "
                  f"{'PASS' if r['pass_rescan'] else 'FAIL'}")
    return 0 if all(r["pass_cost"] and r["pass_rescan"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
