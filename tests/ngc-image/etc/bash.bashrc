# NGC-shaped test image: NGC's bash.bashrc runs the same setup as shinit_v2 (it is BASH_ENV,
# so every bash reads it), then the interactive bits.
[ -r /etc/shinit_v2 ] && . /etc/shinit_v2
[ -z "${PS1:-}" ] && return
PS1='\u@\h:\w\$ '
