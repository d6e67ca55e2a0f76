# Shared by tests/run and the student tools in tests/tools: messages,
# finding bats, choosing labs from LAB=. Needs REPO (the repository's root).

BATS_LIBS_NPM="bats@1.11.1 bats-support@0.3.0 bats-assert@2.2.4"

say() { printf '%s\n' "$*"; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Finds bats and its two libraries: the system's first, then .tools/ (npm);
# installs them there with npm if that is possible; otherwise stops with the
# command to run. Sets BATS and exports BATS_LIB_PATH.
find_bats() {
    local dir dirs
    BATS=""
    if command -v bats >/dev/null; then
        BATS=$(command -v bats)
    elif [[ -x $REPO/.tools/node_modules/bats/bin/bats ]]; then
        BATS=$REPO/.tools/node_modules/bats/bin/bats
    fi
    IFS=: read -ra dirs <<<"${BATS_LIB_PATH:-}"
    dirs+=(/usr/lib/bats /usr/local/lib/bats /opt/homebrew/lib "$REPO/.tools/node_modules")
    BATS_LIB_DIR=""
    for dir in "${dirs[@]}"; do
        if [[ -n $dir && -f $dir/bats-support/load.bash && -f $dir/bats-assert/load.bash ]]; then
            BATS_LIB_DIR=$dir
            break
        fi
    done
}

setup_bats() {
    find_bats
    if [[ -z $BATS || -z $BATS_LIB_DIR ]] && command -v npm >/dev/null; then
        say "Installing bats, bats-support and bats-assert into .tools/ with npm..."
        # shellcheck disable=SC2086
        npm install --prefix "$REPO/.tools" --no-audit --no-fund --loglevel=error \
            $BATS_LIBS_NPM >/dev/null || die "npm could not install bats (see above)"
        find_bats
    fi
    if [[ -z $BATS || -z $BATS_LIB_DIR ]]; then
        printf '%s\n' "bats and its libraries bats-support and bats-assert are needed to run the tests." \
            "On Debian or Ubuntu, install them with:" \
            "    sudo apt-get install bats bats-support bats-assert" \
            "(or install npm: then 'make check' installs them into .tools/ itself)" >&2
        exit 1
    fi
    export BATS_LIB_PATH=$BATS_LIB_DIR
}

# tool_language: sets TOOL_LANG, the language of the hints and of the
# tools' own words: HINT_LANG (fr or en), else the locale (LC_ALL, then
# LC_MESSAGES, then LANG: fr_* is French), else English. Program messages
# and test output stay in English (the contract fixes them).
tool_language() {
    local locale=${LC_ALL:-${LC_MESSAGES:-${LANG:-}}}
    case ${HINT_LANG:-} in
        fr | en) TOOL_LANG=$HINT_LANG ;;
        "") if [[ $locale == fr* ]]; then TOOL_LANG=fr; else TOOL_LANG=en; fi ;;
        *) die "HINT_LANG=$HINT_LANG: use HINT_LANG=fr (français) or HINT_LANG=en (English)" ;;
    esac
    MANIFEST_LANG=$TOOL_LANG
}

# en_fr ENGLISH FRENCH: prints the one in the tools' language.
en_fr() {
    if [[ ${TOOL_LANG:-en} == fr ]]; then printf '%s' "$2"; else printf '%s' "$1"; fi
}

# fit WIDTH TEXT: TEXT (UTF-8) cut or padded to WIDTH characters, whatever
# the locale (printf's %-Ns counts bytes, and so does ${#text} in the C
# locale: an accented letter is two bytes in UTF-8). Bytes are counted here
# one by one, a continuation byte (10xxxxxx) adding no character.
fit() {
    local width=$1 text=$2 LC_ALL=C
    local i count=0 cut=${#2} byte
    for ((i = 0; i < ${#text}; i++)); do
        byte=${text:i:1}
        [[ $byte == [$'\x80'-$'\xbf'] ]] && continue
        if ((count == width)); then
            cut=$i
            break
        fi
        count=$((count + 1))
    done
    printf '%s%*s' "${text:0:cut}" $((width - count)) ""
}

# readme_of LAB: the lab's README in the tools' language (LAB/README.md or
# LAB/README.fr.md, where it exists).
readme_of() {
    if [[ ${TOOL_LANG:-en} == fr && -f $REPO/$1/README.fr.md ]]; then
        printf '%s' "$1/README.fr.md"
    else
        printf '%s' "$1/README.md"
    fi
}

# readme_section LAB HEADING: HEADING (an "## " heading of LAB/README.md,
# without the "## "), or in French its twin in README.fr.md: the heading at
# the same place (tests/tools/readme-twins keeps them in step).
readme_section() {
    local lab=$1 heading=$2 index
    if [[ ${TOOL_LANG:-en} == fr && -f $REPO/$lab/README.fr.md ]]; then
        index=$(awk -v h="$heading" '/^```/ { code = !code } !code && /^## / { n++; if (substr($0, 4) == h) { print n; exit } }' "$REPO/$lab/README.md")
        if [[ -n $index ]]; then
            awk -v i="$index" '/^```/ { code = !code } !code && /^## / && ++n == i { print substr($0, 4); exit }' "$REPO/$lab/README.fr.md"
            return
        fi
    fi
    printf '%s\n' "$heading"
}

# The lab folders to work on, from LAB (01, 1, lab01 or lab01-blocking).
select_labs() {
    local lab number
    for lab in "$REPO"/lab0*-*/; do
        lab=$(basename "$lab")
        if [[ -n $LAB ]]; then
            number=${LAB#lab}
            number=${number%%-*}
            [[ $number =~ ^[0-9]+$ ]] || die "$(en_fr "LAB=$LAB: give a lab like LAB=01 or LAB=lab01-blocking" "LAB=$LAB : donnez un TP comme LAB=01 ou LAB=lab01-blocking")"
            [[ ${lab:3:2} == "$(printf '%02d' "$((10#$number))")" ]] || continue
        fi
        LABS+=("$lab")
    done
    ((${#LABS[@]} > 0)) || die "$(en_fr "LAB=$LAB: no such lab" "LAB=$LAB : ce TP n'existe pas")"
}

# What the student tools remember, in each lab folder's .progress (not in
# git), one "KEY VALUE" a line: "next 3" (make check: the step to work on,
# "done" when the lab is done), "hint 3 2" (make hint: the last level of
# step 3's hints shown). STUDENT_ROOT: the folder holding the lab folders.

# progress_value LAB KEY: the value saved under KEY, or nothing.
progress_value() {
    local file=$STUDENT_ROOT/$1/.progress
    [[ -f $file ]] || return 0
    sed -n "s/^$2 //p" "$file" | tail -n 1
}

# progress_set LAB KEY VALUE: saves it (replacing the line of that KEY).
progress_set() {
    local file=$STUDENT_ROOT/$1/.progress
    [[ -d $STUDENT_ROOT/$1 ]] || return 0
    { [[ -f $file ]] && grep -v "^$2 " "$file"; printf '%s %s\n' "$2" "$3"; } >"$file.new"
    mv "$file.new" "$file"
}
