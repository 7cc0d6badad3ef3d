#!/usr/bin/env bash
# Mutation testing of the generic call, the retry policy, the errors, the attempt loop and the
# OpenTelemetry observer, with mutmut (settings in pyproject.toml, [tool.mutmut]). Not part of .ci/run: it
# takes the better part of an hour on 2 cores.
# Prints the score of each module, then every mutant that survived; `.venv/bin/mutmut show NAME`
# shows one, and docs/mutation.md says why each that is still alive may live.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

rm -rf mutants
.venv/bin/mutmut run --max-children "${MUTMUT_CHILDREN:-2}" > /dev/null
.venv/bin/mutmut results --all true | .venv/bin/python -c '
import collections, sys
counts = collections.defaultdict(collections.Counter)
alive = []
for line in sys.stdin:
    name, _, status = line.strip().rpartition(": ")
    if not name:
        continue
    module = name.split(".x", 1)[0]
    counts[module][status] += 1
    if status in {"survived", "no tests"}:
        alive.append(f"  {name}: {status}")
for module, count in sorted(counts.items()):
    caught = count["killed"] + count["timeout"]
    total = sum(count.values())
    print(f"{module}: {caught} of {total} mutants caught ({caught / total:.0%}); {dict(count)}")
print("alive:", *alive, sep="\n")
'
