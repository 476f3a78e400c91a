# Parse "--name value" and "--name=value" options into shell variables that already exist.
# Source it after the defaults, with no arguments: it consumes options from the caller's "$@".
#
#     nj=4
#     use_lm=false
#     help_message="Usage: $0 [options] <data_dir>"
#     . utils/parse_options.sh
#     # "$@" now holds the remaining (positional) arguments
#
# --foo-bar and --foo_bar both set foo_bar, which must be defined already (empty is fine);
# anything else is an error naming the option. A variable whose value is true or false only
# takes true or false. --help / -h print $help_message and exit 0. Parsing stops at "--"
# (which is dropped) or at the first argument that does not start with "--".

while [ $# -gt 0 ]; do
    case "$1" in
        --help | -h)
            printf '%s\n' "${help_message:-No help message for $0}"
            exit 0
            ;;
        --)
            shift
            break
            ;;
        --*=*)
            _po_name="${1%%=*}"
            _po_value="${1#*=}"
            shift
            ;;
        --*)
            if [ $# -lt 2 ]; then
                echo "$0: option $1 needs a value" >&2
                exit 1
            fi
            _po_name="$1"
            _po_value="$2"
            shift 2
            ;;
        *)
            break
            ;;
    esac
    _po_var="${_po_name#--}"
    _po_var="${_po_var//-/_}"
    # The name check comes first: ${!x+set} aborts the shell on an invalid name.
    if ! [[ "${_po_var}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ -z "${!_po_var+set}" ]; then
        echo "$0: unknown option ${_po_name} (see $0 --help)" >&2
        exit 1
    fi
    case "${!_po_var}" in
        true | false)
            if [ "${_po_value}" != true ] && [ "${_po_value}" != false ]; then
                echo "$0: option ${_po_name} takes true or false, got '${_po_value}'" >&2
                exit 1
            fi
            ;;
    esac
    printf -v "${_po_var}" '%s' "${_po_value}"
done
unset _po_name _po_value _po_var
