#!/bin/sh
# Check that every citation of the project's documents resolves.
#
#   scripts/check_citations.sh [ROOT]        check the tree at ROOT (default: this repository)
#   scripts/check_citations.sh --self-test   check that the checker catches what it should
#
# A citation is `docs/NAME.md` optionally followed by section numbers, written
# `<section sign>N`, `section N`, `sections N, M and K`, `sections N-M` or just `N`.
# It fails (exit 1, one line per problem) when
#   - docs/NAME.md does not exist, or a cited number is not a numbered heading
#     ("## 4. Title", "### 4.2 Title") of that file;
#   - inside docs/, a bare section reference (section sign + number) is not a
#     heading of the file it appears in;
#   - outside docs/, a section sign or "section N" appears without a docs/ file;
#   - a document name FORMATS.md, KERNELS.md, MODEL.md, ARCHITECTURE.md,
#     SPARSE_ATTENTION.md or TEMPORAL_HEAD.md appears without the docs/ path, or
#     SPARSE_ATTENTION / TEMPORAL_HEAD appear at all (those are not files here);
#   - an ADR number other than ADR-018 (the name of the raw CSI frame format,
#     docs/FORMATS.md section 5) appears: design records are not in the tree, so
#     cite the docs section that states the rule instead.
# The scan covers the source, test, tool, binding and documentation files that
# git tracks (or, outside a git checkout, the same folders), text files only.
set -u
LC_ALL=C
export LC_ALL

SECT=$(printf '\302\247')   # the section sign, UTF-8
DASH=$(printf '\342\200\223') # en dash, UTF-8
NUM='[0-9]+(\.[0-9]+)*'
SEP="( *(,|-|$DASH|and|or|to) *($SECT)?)"
NUMS="$NUM($SEP$NUM)*"
REF="docs/[A-Za-z_]+\.md(( *$SECT|:? *sections?) *$NUMS| +$NUMS)?"
DOCNAMES='(FORMATS|KERNELS|MODEL|ARCHITECTURE|SPARSE_ATTENTION|TEMPORAL_HEAD)\.md'

self_test() {
    t=$(mktemp -d) || exit 2
    trap 'rm -rf "$t"' EXIT
    mkdir -p "$t/docs" "$t/src"
    printf '# A\n## 1. One\n### 1.2 Sub\n## 3. Three\nsee %s1.2 and %s4\n' "$SECT" "$SECT" \
        > "$t/docs/A.md"
    cat > "$t/src/x.c" <<EOF
/* good: docs/A.md ${SECT}1.2, docs/A.md section 3, docs/A.md sections 1-3, docs/A.md */
/* bad number: docs/A.md section 2 */
/* bad range end: docs/A.md sections 1.2-1.3 */
/* missing file: docs/B.md */
/* bare name: A.md? no; FORMATS.md 1.1 */
/* bare section: see section 4 */
/* retired name: SPARSE_ATTENTION */
/* design record: ADR-096; allowed: ADR-018 */
EOF
    out=$(sh "$0" "$t" 2>&1)
    rc=$?
    n=$(printf '%s\n' "$out" | grep -c ': ')
    # docs/A.md: one bad bare reference; src/x.c: 7 bad lines (bare name and
    # retired name each once, the number and range checks one each).
    if [ "$rc" -ne 1 ] || [ "$n" -ne 8 ]; then
        printf 'self-test FAILED (rc %s, %s problems, want rc 1 and 8):\n%s\n' "$rc" "$n" "$out"
        exit 1
    fi
    printf 'self-test passed: %s problems found as expected\n' "$n"
    exit 0
}

[ "${1:-}" = "--self-test" ] && self_test

root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

paths='src include tools tests python fuzz bench esp-idf examples scripts docs cmake
       README.md models/README.md CMakeLists.txt Makefile'
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ -z "$(git rev-parse --show-prefix)" ]
then
    # shellcheck disable=SC2086
    git ls-files --cached --others --exclude-standard -- $paths > "$tmp/all"
else
    # shellcheck disable=SC2086
    find $paths -type f 2>/dev/null > "$tmp/all"
fi
grep -v -e '^docs/bench\.' -e '^scripts/check_citations\.sh$' "$tmp/all" | sort -u |
    while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done > "$tmp/files"
# Text files only (grep -I skips binary ones).
tr '\n' '\0' < "$tmp/files" | xargs -0 grep -Il '' > "$tmp/text" 2>/dev/null
: > "$tmp/headings"
for d in docs/*.md; do
    [ -f "$d" ] || continue
    sed -nE 's/^#{1,6} ('"$NUM"')\.? .*/\1/p' "$d" | sed "s|^|$d |" >> "$tmp/headings"
done

: > "$tmp/problems"
problem() { printf '%s: %s: %s\n' "$1" "$2" "$3" >> "$tmp/problems"; }

has_section() { grep -qxF "$1 $2" "$tmp/headings"; }

# Every docs/NAME.md citation, anywhere.
tr '\n' '\0' < "$tmp/text" | xargs -0 grep -onE "$REF" /dev/null > "$tmp/refs" || true
while IFS= read -r hit; do
    where=${hit%%:docs/*}
    ref=docs/${hit#*:docs/}
    doc=$(printf '%s\n' "$ref" | sed -nE 's|^(docs/[A-Za-z_]+\.md).*|\1|p')
    if [ ! -f "$doc" ]; then
        problem "$where" "$doc does not exist" "$ref"
        continue
    fi
    for n in $(printf '%s\n' "${ref#"$doc"}" | grep -oE "$NUM"); do
        has_section "$doc" "$n" || problem "$where" "$doc has no section $n" "$ref"
    done
done < "$tmp/refs"

while IFS= read -r f; do
    # Lines with the docs/ citations removed: what remains must not cite anything.
    sed -E "s#$REF##g" "$f" > "$tmp/rest"
    case $f in
    docs/*.md)
        # A bare section reference inside a document points into that document.
        grep -noE "$SECT *$NUMS" "$tmp/rest" | while IFS= read -r hit; do
            line=${hit%%:*}
            for n in $(printf '%s\n' "${hit#*:}" | grep -oE "$NUM"); do
                has_section "$f" "$n" || problem "$f:$line" "$f has no section $n" "${hit#*:}"
            done
        done
        ;;
    *)
        grep -nE "$SECT|(^|[^A-Za-z_])sections? [0-9]" "$tmp/rest" | while IFS= read -r hit; do
            problem "$f:${hit%%:*}" "section reference without a docs/ file" "${hit#*:}"
        done
        ;;
    esac
    grep -nE "(^|[^/A-Za-z_])$DOCNAMES|SPARSE_ATTENTION|TEMPORAL_HEAD" "$tmp/rest" |
        while IFS= read -r hit; do
            problem "$f:${hit%%:*}" "document name without docs/ (or not a document here)" \
                "${hit#*:}"
        done
    sed 's/ADR-018//g' "$f" | grep -nE 'ADR-[0-9]+' | while IFS= read -r hit; do
        problem "$f:${hit%%:*}" "design-record number (cite the docs/ section)" "${hit#*:}"
    done
done < "$tmp/text"

if [ -s "$tmp/problems" ]; then
    sort -u "$tmp/problems"
    printf '%s citation problem(s)\n' "$(sort -u "$tmp/problems" | wc -l | tr -d ' ')"
    exit 1
fi
printf 'citations ok: %s references in %s files\n' "$(wc -l < "$tmp/refs" | tr -d ' ')" \
    "$(wc -l < "$tmp/text" | tr -d ' ')"
exit 0
