# Sourced by tests/setup-podman5.sh and tests/service.sh: a host user made known inside the
# podman 5 rootfs, with the host's own passwd/group/shadow/subuid/subgid lines (setpriv
# --init-groups and newuidmap read these inside).

# sync_line ROOT FILE LINE: LINE into ROOT's FILE, replacing any older line of that name.
# Never gives a second name to an id in passwd or group.
sync_line() {
    local root=$1 file=$1$2 line=$3 key=${3%%:*}
    [[ -n $line ]] || { echo "no $2 line for $key on the host" >&2; return 1; }
    grep -qxF -- "$line" "$file" 2>/dev/null && return 0
    local other mode
    other=$(awk -F: -v k="$key" -v id="$(cut -d: -f3 <<<"$line")" \
        '$1 != k && $3 == id {print $1}' "$file" 2>/dev/null || true)
    if [[ $2 == /etc/passwd || $2 == /etc/group ]] && [[ -n $other ]]; then
        echo "id $(cut -d: -f3 <<<"$line") of $key is $other in $root's $2" >&2
        return 1
    fi
    mode=$(stat -c %a "$file" 2>/dev/null || echo 644)
    { grep -v "^$key:" "$file" 2>/dev/null || true; printf '%s\n' "$line"; } >"$file.tmp.$$"
    chmod "$mode" "$file.tmp.$$"
    chown --reference="$file" "$file.tmp.$$" 2>/dev/null || true
    mv -f "$file.tmp.$$" "$file"
    echo "== synced $key into $root's $2"
}

# sync_user ROOT USER: all five lines of USER.
sync_user() {
    local root=$1 user=$2
    sync_line "$root" /etc/passwd "$(getent passwd "$user")" &&
        sync_line "$root" /etc/group "$(getent group "$(id -g "$user")")" &&
        sync_line "$root" /etc/shadow "$(grep "^$user:" /etc/shadow || true)" &&
        sync_line "$root" /etc/subuid "$(grep "^$user:" /etc/subuid)" &&
        sync_line "$root" /etc/subgid "$(grep "^$user:" /etc/subgid)"
}

# add_subids USER: a 65536 range after every existing one in /etc/subuid and /etc/subgid,
# unless USER has one, so that none overlap.
add_subids() {
    local user=$1 file start
    for file in /etc/subuid /etc/subgid; do
        touch "$file"
        grep -q "^$user:" "$file" && continue
        start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$file")
        echo "$user:$start:65536" >>"$file"
        echo "== added $file range $start:65536 for $user"
    done
}
