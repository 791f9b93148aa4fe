# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mlenv_global_optspecs
    string join \n v/verbose q/quiet host= C/project= h/help V/version
end

function __fish_mlenv_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mlenv_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mlenv_using_subcommand
    set -l cmd (__fish_mlenv_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mlenv -n "__fish_mlenv_needs_command" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_needs_command" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_needs_command" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_needs_command" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlenv -n "__fish_mlenv_needs_command" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "up" -d 'Create the project\'s container if absent, start it if stopped, do nothing if it runs'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "down" -d 'Stop the project\'s container (files and installs are kept)'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "restart" -d 'Restart the project\'s container'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "rm" -d 'Remove the project\'s container and mlenv\'s state for the project'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "exec" -d 'Open a login shell in the container, or run a command with -c'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "status" -d 'Show the container\'s state, image, ports, uptime and GPUs'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "logs" -d 'Show the container\'s logs, or mlenv\'s own debug log with --mlenv'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "list" -d 'List every mlenv environment of this user: project, state, image, ports, GPUs'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "jupyter" -d 'Start JupyterLab in the environment (detached) and print its URL; --stop stops it'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "tensorboard" -d 'Start TensorBoard in the environment (detached) and print its URL; --stop stops it'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "unit" -d 'Print the systemd user unit that brings the environment back after a reboot'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "init" -d 'Write a commented mlenv.toml for the project from the given `up` flags'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "doctor" -d 'Check that this machine can run mlenv environments, each problem with its fix'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "clean" -d 'Remove mlenv\'s own files for the project (state, logs, units); never the project\'s files'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "gpu" -d 'List the GPUs podman can attach, or write the CDI spec for this machine\'s NVIDIA GPUs'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "service" -d 'Podman\'s API service for you, in the background, where systemd cannot start it (a login node over ssh or su: no user manager, no XDG_RUNTIME_DIR); its log is in mlenv\'s state folder'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "export" -d 'Write a Kubernetes manifest or a Slurm batch script that runs the environment on a cluster'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "man" -d 'Print the man page (roff) of mlenv, or of one subcommand'
complete -c mlenv -n "__fish_mlenv_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l image -d 'Container image [env: MLENV_IMAGE] [default: the current NGC PyTorch image]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -s p -l port -d 'Ports to forward: HOST:CONTAINER, IP:HOST:CONTAINER or PORT, with an optional /udp; comma separated or repeated. Binds 127.0.0.1 unless an IP is given. HOST may be `auto` (auto:8888): a free port, picked when the container is made and kept' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l env-file -d 'Load environment variables from this file (KEY=VALUE lines, read as Docker Compose reads .env files)' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l gpu -d 'GPUs: all, none, indices (0,1), or CDI names (nvidia.com/gpu=0) [default: all when an NVIDIA CDI spec exists, else none]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l memory -d 'Memory limit, e.g. 16g, 512m' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l cpus -d 'CPU limit, e.g. 4 or 2.5' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l ipc -d 'IPC namespace: private (a /dev/shm of --shm-size) or host (the host\'s IPC and /dev/shm, as NVIDIA\'s examples run) [default: private]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l shm-size -d 'Size of /dev/shm with --ipc private, e.g. 16g [default: half the host\'s memory, at least 2g]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l ulimit -d 'Process limits, NAME=SOFT[:HARD] (-1 for unlimited); comma separated or repeated [default: memlock=-1 and stack=67108864 as NVIDIA recommends, capped at your hard limits]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l home -d 'HOME inside: host (your home, at its own path) or isolated (the environment\'s own, with your ~/.cache, git identity and ssh config) [default: host]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l requirements -d 'Install this requirements file with pip (a file inside the project), or `none` [default: the project\'s requirements.txt when it has one]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l pip-constraints -d 'Whether pip keeps the image\'s own pins (its PIP_CONSTRAINT, as NGC images set): image, or none to install without them [default: image]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l no-user-mapping -d 'Run as the image\'s own user instead of mapping your user into the container'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l recreate -d 'Replace an existing container that has other settings (project files are kept)'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l force-requirements -d 'Reinstall the requirements even when nothing changed'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l no-autostart -d 'Do not bring the environment back after a reboot (no systemd user unit); remembered'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -l autostart -d 'Bring the environment back after a reboot again, after --no-autostart'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlenv -n "__fish_mlenv_using_subcommand up" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand down" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand down" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand down" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand down" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand down" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand down" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand restart" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand restart" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand restart" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand restart" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand restart" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand restart" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand rm" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand rm" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand rm" -s f -l force -d 'Remove the container even if it is running'
complete -c mlenv -n "__fish_mlenv_using_subcommand rm" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand rm" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand rm" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand rm" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand exec" -s c -l command -d 'Run this command through `sh -c` in the project folder instead of a login shell' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand exec" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand exec" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand exec" -l root -d 'As root inside, e.g. to apt-get install a system package. Rootless, root inside is an unprivileged subordinate uid outside; files it writes in the project are that uid\'s'
complete -c mlenv -n "__fish_mlenv_using_subcommand exec" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand exec" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand exec" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand exec" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand status" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand status" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand status" -l json -d 'Print machine-readable JSON on stdout'
complete -c mlenv -n "__fish_mlenv_using_subcommand status" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand status" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand status" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand status" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand logs" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand logs" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand logs" -s f -l follow -d 'Keep printing new log lines'
complete -c mlenv -n "__fish_mlenv_using_subcommand logs" -l mlenv -d 'Show mlenv\'s own timestamped debug log for this project instead'
complete -c mlenv -n "__fish_mlenv_using_subcommand logs" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand logs" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand logs" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand logs" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand list" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand list" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand list" -l json -d 'Print machine-readable JSON on stdout'
complete -c mlenv -n "__fish_mlenv_using_subcommand list" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand list" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand list" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand list" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand jupyter" -l port -d 'The container port JupyterLab listens on; the environment must forward it' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand jupyter" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand jupyter" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand jupyter" -l stop -d 'Stop the JupyterLab mlenv started'
complete -c mlenv -n "__fish_mlenv_using_subcommand jupyter" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand jupyter" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand jupyter" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand jupyter" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -l logdir -d 'The log folder, inside the project' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -l port -d 'The container port TensorBoard listens on; the environment must forward it' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -l stop -d 'Stop the TensorBoard mlenv started'
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand tensorboard" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand unit" -l for-podman -d 'Print the unit for this podman version instead of the installed one (a quadlet `.container` from 4.4, a `.service` before)' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand unit" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand unit" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand unit" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand unit" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand unit" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand unit" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l image -d 'Container image [env: MLENV_IMAGE] [default: the current NGC PyTorch image]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -s p -l port -d 'Ports to forward: HOST:CONTAINER, IP:HOST:CONTAINER or PORT, with an optional /udp; comma separated or repeated. Binds 127.0.0.1 unless an IP is given. HOST may be `auto` (auto:8888): a free port, picked when the container is made and kept' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l env-file -d 'Load environment variables from this file (KEY=VALUE lines, read as Docker Compose reads .env files)' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l gpu -d 'GPUs: all, none, indices (0,1), or CDI names (nvidia.com/gpu=0) [default: all when an NVIDIA CDI spec exists, else none]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l memory -d 'Memory limit, e.g. 16g, 512m' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l cpus -d 'CPU limit, e.g. 4 or 2.5' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l ipc -d 'IPC namespace: private (a /dev/shm of --shm-size) or host (the host\'s IPC and /dev/shm, as NVIDIA\'s examples run) [default: private]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l shm-size -d 'Size of /dev/shm with --ipc private, e.g. 16g [default: half the host\'s memory, at least 2g]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l ulimit -d 'Process limits, NAME=SOFT[:HARD] (-1 for unlimited); comma separated or repeated [default: memlock=-1 and stack=67108864 as NVIDIA recommends, capped at your hard limits]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l home -d 'HOME inside: host (your home, at its own path) or isolated (the environment\'s own, with your ~/.cache, git identity and ssh config) [default: host]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l requirements -d 'Install this requirements file with pip (a file inside the project), or `none` [default: the project\'s requirements.txt when it has one]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l pip-constraints -d 'Whether pip keeps the image\'s own pins (its PIP_CONSTRAINT, as NGC images set): image, or none to install without them [default: image]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l force -d 'Overwrite an existing mlenv.toml'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l no-user-mapping -d 'Run as the image\'s own user instead of mapping your user into the container'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l recreate -d 'Replace an existing container that has other settings (project files are kept)'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l force-requirements -d 'Reinstall the requirements even when nothing changed'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l no-autostart -d 'Do not bring the environment back after a reboot (no systemd user unit); remembered'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -l autostart -d 'Bring the environment back after a reboot again, after --no-autostart'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand init" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand doctor" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand doctor" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand doctor" -l json -d 'Print machine-readable JSON on stdout'
complete -c mlenv -n "__fish_mlenv_using_subcommand doctor" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand doctor" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -l volumes -d 'Also remove the project\'s volumes (installed packages, pip cache)'
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -l all -d 'Clean every mlenv project of this user, after listing what will go'
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -s y -l yes -d 'Do not ask before cleaning with --all'
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand clean" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -f -a "list" -d 'The CDI devices podman can attach (their names for --gpu), with their spec files and anything that would stop podman from using them'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -f -a "setup" -d 'Find the NVIDIA driver and GPUs (no nvidia-ctk needed) and write a CDI spec where the installed podman reads it; regenerates one mlenv wrote after a driver upgrade'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and not __fish_seen_subcommand_from list setup help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from list" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from list" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -l output -d 'Write the spec to this file (*.yaml) instead of where podman reads it by default' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -l root -d 'Look for the driver below this folder instead of / (a mounted system image)' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -l print -d 'Print the spec on stdout and write nothing'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from setup" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from help" -f -a "list" -d 'The CDI devices podman can attach (their names for --gpu), with their spec files and anything that would stop podman from using them'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from help" -f -a "setup" -d 'Find the NVIDIA driver and GPUs (no nvidia-ctk needed) and write a CDI spec where the installed podman reads it; regenerates one mlenv wrote after a driver upgrade'
complete -c mlenv -n "__fish_mlenv_using_subcommand gpu; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -f -a "start" -d 'Start podman\'s API service on the socket mlenv uses, unless something answers there'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -f -a "stop" -d 'Stop the service `mlenv service start` started (containers keep running)'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -f -a "status" -d 'Whether the service answers, and whether mlenv started it; exit 3 when it does not answer'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and not __fish_seen_subcommand_from start stop status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from start" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from start" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from start" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from start" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from stop" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from stop" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from stop" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from stop" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from stop" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from status" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from status" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start podman\'s API service on the socket mlenv uses, unless something answers there'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Stop the service `mlenv service start` started (containers keep running)'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "status" -d 'Whether the service answers, and whether mlenv started it; exit 3 when it does not answer'
complete -c mlenv -n "__fish_mlenv_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -f -a "kube" -d 'A Pod (interactive; `kubectl exec -it NAME -- bash`) or with --job a Job: the image, the env file as a Secret (values only there), GPUs as `nvidia.com/gpu` limits, memory and CPU requests and limits, ports, the project mounted at its own path, the requirements installed by an init container, running as your uid and gid'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -f -a "slurm" -d 'An sbatch script running CMD in the environment on a compute node with rootless podman (--gres=gpu:N, the same image, env file, mounts and requirements), or with pyxis (`srun --container-image`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and not __fish_seen_subcommand_from kube slurm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -l job -d 'Write a batch Job running CMD (through `sh -c`) instead of an interactive Pod' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -l pvc -d 'Mount this existing PersistentVolumeClaim as the project instead of a new claim NAME-project' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -s o -l output -d 'Write the manifest to FILE (mode 0600: it holds the env file\'s values) instead of stdout' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -l host-path -d 'Mount the project folder (and a packages folder in mlenv\'s data dir) from the node with hostPath volumes instead of claims: for a single node that has the project'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from kube" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -l job -d 'The command the job runs in the environment (through `sh -c`)' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -s o -l output -d 'Write the script to FILE (mode 0600) instead of stdout' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -l pyxis -d 'Run the container with pyxis (`srun --container-image`) instead of rootless podman'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from slurm" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "kube" -d 'A Pod (interactive; `kubectl exec -it NAME -- bash`) or with --job a Job: the image, the env file as a Secret (values only there), GPUs as `nvidia.com/gpu` limits, memory and CPU requests and limits, ports, the project mounted at its own path, the requirements installed by an init container, running as your uid and gid'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "slurm" -d 'An sbatch script running CMD in the environment on a compute node with rootless podman (--gres=gpu:N, the same image, env file, mounts and requirements), or with pyxis (`srun --container-image`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlenv -n "__fish_mlenv_using_subcommand completions" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand completions" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand completions" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand completions" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand man" -l host -d 'Podman API socket, as unix:///path/to/podman.sock [env: CONTAINER_HOST]' -r
complete -c mlenv -n "__fish_mlenv_using_subcommand man" -s C -l project -d 'Project folder [default: the current directory]' -r -F
complete -c mlenv -n "__fish_mlenv_using_subcommand man" -l markdown -d 'Print the command reference in Markdown instead (the README\'s section)'
complete -c mlenv -n "__fish_mlenv_using_subcommand man" -s v -l verbose -d 'Explain every step, and log at debug level'
complete -c mlenv -n "__fish_mlenv_using_subcommand man" -s q -l quiet -d 'Print only errors (and the output of `exec`, `logs`, `status --json`)'
complete -c mlenv -n "__fish_mlenv_using_subcommand man" -s h -l help -d 'Print help'
complete -c mlenv -n "__fish_mlenv_using_subcommand man" -s V -l version -d 'Print version'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "up" -d 'Create the project\'s container if absent, start it if stopped, do nothing if it runs'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "down" -d 'Stop the project\'s container (files and installs are kept)'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "restart" -d 'Restart the project\'s container'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "rm" -d 'Remove the project\'s container and mlenv\'s state for the project'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "exec" -d 'Open a login shell in the container, or run a command with -c'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "status" -d 'Show the container\'s state, image, ports, uptime and GPUs'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "logs" -d 'Show the container\'s logs, or mlenv\'s own debug log with --mlenv'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "list" -d 'List every mlenv environment of this user: project, state, image, ports, GPUs'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "jupyter" -d 'Start JupyterLab in the environment (detached) and print its URL; --stop stops it'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "tensorboard" -d 'Start TensorBoard in the environment (detached) and print its URL; --stop stops it'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "unit" -d 'Print the systemd user unit that brings the environment back after a reboot'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "init" -d 'Write a commented mlenv.toml for the project from the given `up` flags'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "doctor" -d 'Check that this machine can run mlenv environments, each problem with its fix'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "clean" -d 'Remove mlenv\'s own files for the project (state, logs, units); never the project\'s files'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "gpu" -d 'List the GPUs podman can attach, or write the CDI spec for this machine\'s NVIDIA GPUs'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "service" -d 'Podman\'s API service for you, in the background, where systemd cannot start it (a login node over ssh or su: no user manager, no XDG_RUNTIME_DIR); its log is in mlenv\'s state folder'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "export" -d 'Write a Kubernetes manifest or a Slurm batch script that runs the environment on a cluster'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "man" -d 'Print the man page (roff) of mlenv, or of one subcommand'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and not __fish_seen_subcommand_from up down restart rm exec status logs list jupyter tensorboard unit init doctor clean gpu service export completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and __fish_seen_subcommand_from gpu" -f -a "list" -d 'The CDI devices podman can attach (their names for --gpu), with their spec files and anything that would stop podman from using them'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and __fish_seen_subcommand_from gpu" -f -a "setup" -d 'Find the NVIDIA driver and GPUs (no nvidia-ctk needed) and write a CDI spec where the installed podman reads it; regenerates one mlenv wrote after a driver upgrade'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "start" -d 'Start podman\'s API service on the socket mlenv uses, unless something answers there'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "stop" -d 'Stop the service `mlenv service start` started (containers keep running)'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "status" -d 'Whether the service answers, and whether mlenv started it; exit 3 when it does not answer'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "kube" -d 'A Pod (interactive; `kubectl exec -it NAME -- bash`) or with --job a Job: the image, the env file as a Secret (values only there), GPUs as `nvidia.com/gpu` limits, memory and CPU requests and limits, ports, the project mounted at its own path, the requirements installed by an init container, running as your uid and gid'
complete -c mlenv -n "__fish_mlenv_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "slurm" -d 'An sbatch script running CMD in the environment on a compute node with rootless podman (--gres=gpu:N, the same image, env file, mounts and requirements), or with pyxis (`srun --container-image`)'
