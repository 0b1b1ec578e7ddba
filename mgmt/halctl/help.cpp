// halctl's help texts and its bash completion script, both generated from the verb table so
// they cannot drift from what the parser accepts.
#include "mgmt/halctl/commands.hpp"

#include <sstream>

namespace halcyon::halctl {
namespace {

void describe_parameters(std::ostringstream& text, const std::vector<ParameterSpec>& parameters) {
    for (const ParameterSpec& parameter : parameters) {
        std::string name =
            std::string("-") + parameter.name + (parameter.takes_value ? " VALUE" : "");
        text << "  " << name << std::string(name.size() < 28 ? 28 - name.size() : 1, ' ')
             << parameter.help << "\n";
    }
}

} // namespace

std::string help_text(const std::string& command) {
    std::ostringstream text;
    if (const VerbSpec* spec = command.empty() ? nullptr : find_verb(command)) {
        text << "halctl " << spec->name;
        if (spec->positional)
            text << " [-" << spec->positional << "] " << spec->positional;
        text << " [parameters]\n\n" << spec->summary << "\n\nParameters:\n";
        describe_parameters(text, spec->parameters);
        text << "\nCommon options:\n";
        describe_parameters(text, global_parameters());
        return text.str();
    }
    text << "halctl: the remote console of a Halcyon host (commands and parameters are "
            "case-insensitive)\n\nCommands:\n";
    for (const VerbSpec& spec : verb_specs()) {
        std::string name = spec.name;
        text << "  " << name << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ')
             << spec.summary << "\n";
    }
    text << "\nCommon options:\n";
    describe_parameters(text, global_parameters());
    text << "\nThe server and key come from --host/--key, HALCYON_HOST/HALCYON_KEY, or\n"
            "~/.config/halctl/config (\"host = HOST:PORT\", \"key = HEX\").\n"
            "Exit codes: 0 ok, 1 usage, 2 authentication, 3 not found, 4 conflict or wrong state,\n"
            "5 connection, 6 request refused as invalid, 7 server error, 8 local file unreadable.\n"
            "Details: halctl help COMMAND, or halctl COMMAND -?\n";
    return text.str();
}

std::string bash_completion_script() {
    std::ostringstream verbs, cases;
    for (const VerbSpec& spec : verb_specs()) {
        verbs << spec.name << " ";
        std::string lower = spec.name;
        for (char& c : lower)
            c = char(std::tolower(uint8_t(c)));
        cases << "        " << lower << ") params=\"";
        for (const ParameterSpec& parameter : spec.parameters)
            cases << "-" << parameter.name << " ";
        cases << "\" ;;\n";
    }
    std::ostringstream globals;
    for (const ParameterSpec& parameter : global_parameters())
        globals << "-" << parameter.name << " ";
    std::ostringstream script;
    script << "# bash completion for halctl; install with:\n"
              "#   halctl completion bash > /etc/bash_completion.d/halctl\n"
              "# or: source <(halctl completion bash)\n"
              "_halctl() {\n"
              "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
              "    local verb=\"\" word i\n"
              "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
              "        word=\"${COMP_WORDS[i]}\"\n"
              "        case \"$word\" in -*) ;; *) verb=\"${word,,}\"; break ;; esac\n"
              "    done\n"
              "    if [[ -z \"$verb\" ]]; then\n"
              "        COMPREPLY=($(compgen -W \""
           << verbs.str()
           << "\" -- \"$cur\"))\n"
              "        return\n"
              "    fi\n"
              "    case \"${prev,,}\" in\n"
              "        -name)\n"
              "            COMPREPLY=($(compgen -W \"$(halctl get-vm -json 2>/dev/null | grep -o "
              "'\"name\":\"[^\"]*\"' | cut -d'\"' -f4)\" -- \"$cur\"))\n"
              "            return ;;\n"
              "        -sourcepath|-kernel|-initrd|-disk)\n"
              "            COMPREPLY=($(compgen -f -- \"$cur\"))\n"
              "            return ;;\n"
              "    esac\n"
              "    local params=\"\"\n"
              "    case \"$verb\" in\n"
           << cases.str()
           << "    esac\n"
              "    if [[ \"$cur\" == -* ]]; then\n"
              "        COMPREPLY=($(compgen -W \"$params "
           << globals.str()
           << "\" -- \"$cur\"))\n"
              "    elif [[ \"$verb\" != get-vmhost && \"$verb\" != get-vmlog && \"$verb\" != "
              "copy-vmfile && \"$verb\" != new-vm ]]; then\n"
              "        COMPREPLY=($(compgen -W \"$(halctl get-vm -json 2>/dev/null | grep -o "
              "'\"name\":\"[^\"]*\"' | cut -d'\"' -f4)\" -- \"$cur\"))\n"
              "    fi\n"
              "}\n"
              "complete -F _halctl halctl\n";
    return script.str();
}

} // namespace halcyon::halctl
