package checks

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// security.users: each service runs as its own user, and none of them
// reaches what another keeps: its secrets, the members' files, their
// calendars, its sockets (issue 11, item 5). The users are read from
// the machine's own configuration (the PHP-FPM pools, uWSGI's ini, nginx,
// Radicale's unit), so an image that gives two services one user fails.
func init() {
	Default.Register(Check{Name: "security.users", Summary: "each service's user (both PHP pools, uWSGI, nginx, Radicale) reads no other service's secrets, no member's file or calendar, and cannot reach another's socket or speak to Radicale as a member",
		Services: []string{"tls", "wiki", "www", "lists", "files", "dav"}, Timeout: 6 * time.Minute,
		Writes: "a member with a file and a calendar event on the disk, removed at the end", Run: checkSecurityUsers})
}

// securityProbe runs as root on the guest with NAME (a member the check
// made) and MARK (the text of their file and event) in its environment.
// It prints "USERS ...", then one line per attempt: "ok USER WHAT" when
// the attempt failed, "LEAK USER WHAT" when it succeeded, "BROKEN USER
// WHAT" when something the service needs is refused, "ERROR text" when
// the probe itself cannot run.
const securityProbe = `set -u
cal_root=/var/lib/radicale/collections/collection-root
files=/var/lib/ostal/files/$NAME
cal=$cal_root/$NAME/ostal-check
secrets=/srv/data/secrets
pool() { sed -n 's/^user *= *//p' "/etc/php/8.4/fpm/pool.d/ostal-$1.conf"; }
wiki=$(pool wiki) www=$(pool www)
lists=$(sed -n 's/^uid *= *//p' /etc/mailman3/uwsgi.ini)
nginx=$(sed -n 's/^user  *\([^; ]*\).*/\1/p' /etc/nginx/nginx.conf)
radicale=$(systemctl show -P User radicale.service)
if [ -z "$wiki" ] || [ -z "$www" ] || [ -z "$lists" ] || [ -z "$nginx" ] || [ -z "$radicale" ]; then
	echo "ERROR cannot tell the services' users: wiki '$wiki', www '$www', lists '$lists', nginx '$nginx', radicale '$radicale'"
	exit 0
fi
echo "USERS wiki=$wiki www=$www lists=$lists nginx=$nginx radicale=$radicale"
[ -d "$files" ] || { echo "ERROR ostal-member add made no folder $files"; exit 0; }

# A member's file, as nginx's WebDAV keeps it, and a calendar event, as
# Radicale keeps it.
printf '%s\n' "$MARK" >"$files/ostal-check.txt"
chown --reference="$files" "$files/ostal-check.txt"
chmod 0600 "$files/ostal-check.txt"
mkdir -p "$cal"
printf '{"tag": "VCALENDAR"}' >"$cal/.Radicale.props"
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ostal//check//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' "$MARK" "$MARK" >"$cal/event.ics"
chown -R --reference="$cal_root" "$cal_root/$NAME"
chmod -R u=rwX,g=rX,o= "$cal_root/$NAME"

# as USER WHAT COMMAND...: the command, run as USER, must fail or print
# nothing of MARK (for a file: print nothing at all).
as() {
	local user=$1 what=$2 out
	shift 2
	if out=$(runuser -u "$user" -- "$@" 2>/dev/null) && [ -n "$out" ]; then
		case $what in
		*:radicale-as-member*) case $out in *"$MARK"*) echo "LEAK $user $what" ;; *) echo "ok $user $what" ;; esac ;;
		*) echo "LEAK $user $what" ;;
		esac
	else
		echo "ok $user $what"
	fi
}
# may USER WHAT COMMAND...: what the service itself needs.
may() {
	local user=$1 what=$2
	shift 2
	if runuser -u "$user" -- "$@" >/dev/null 2>&1; then echo "ok $user $what"; else echo "BROKEN $user $what"; fi
}
connect='import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("connected")'
# Radicale, asked as a member would be by nginx, with the member's name
# in X-Remote-User and no password.
ask_radicale='exec 3<>/dev/tcp/127.0.0.1/5232 || exit 1
printf "GET /%s/ostal-check/event.ics HTTP/1.0\r\nHost: localhost\r\nX-Remote-User: %s\r\n\r\n" "$1" "$1" >&3
timeout 30 cat <&3'

declare -A own=([wiki]="wiki-db wiki-secret-key wiki-upgrade-key" [www]="wordpress-db wordpress-salt" [lists]="" [nginx]="" [radicale]="")
all="wiki-db wiki-secret-key wiki-upgrade-key wordpress-db wordpress-salt wordpress-admin wordpress-app wiki-admin mailman-rest mailman-web-key mailman-archiver-key mailman-web-admin"
declare -A sock=([wiki]=/run/php/wiki.sock [www]=/run/php/www.sock [lists]=/run/mailman3-web/uwsgi.sock)
for svc in wiki www lists nginx radicale; do
	user=${!svc}
	for s in $all; do
		[ -e "$secrets/$s" ] || continue
		case " ${own[$svc]} " in
		*" $s "*) may "$user" "$svc:reads-its-secret:$s" cat "$secrets/$s" ;;
		*) as "$user" "$svc:secret:$s" cat "$secrets/$s" ;;
		esac
	done
	if [ "$svc" = lists ]; then
		may "$user" "$svc:reads-its-secret:web-secrets.json" cat /run/ostal-lists/web-secrets.json
	else
		as "$user" "$svc:secret:/run/ostal-lists/web-secrets.json (Django's key, Mailman's REST password)" cat /run/ostal-lists/web-secrets.json
	fi
	as "$user" "$svc:secret:/run/ostal-lists/mailman-secrets.cfg (Mailman's REST password)" cat /run/ostal-lists/mailman-secrets.cfg
	[ "$svc" = nginx ] || as "$user" "$svc:a-member's-file" cat "$files/ostal-check.txt"
	# nginx and Radicale check the members' passwords; nobody else.
	case $svc in
	nginx | radicale) may "$user" "$svc:reads-the-members'-password-hashes" cat /var/lib/ostal/members/htpasswd ;;
	*) as "$user" "$svc:the-members'-password-hashes" cat /var/lib/ostal/members/htpasswd ;;
	esac
	if [ "$svc" != radicale ]; then
		as "$user" "$svc:a-member's-calendar-on-disk" cat "$cal/event.ics"
		as "$user" "$svc:the-calendars'-folder" ls -A "$cal_root"
	fi
	as "$user" "$svc:radicale-as-member:X-Remote-User-without-password" bash -c "$ask_radicale" - "$NAME"
	for other in wiki www lists; do
		[ -S "${sock[$other]}" ] || { echo "ERROR no socket ${sock[$other]} (is the $other service running?)"; continue; }
		[ "$other" = "$svc" ] && continue
		if [ "$svc" = nginx ]; then
			may "$user" "$svc:connects-to:${sock[$other]}" python3 -c "$connect" "${sock[$other]}"
		else
			as "$user" "$svc:connects-to:${sock[$other]}" python3 -c "$connect" "${sock[$other]}"
		fi
	done
done
echo DONE
`

func checkSecurityUsers(ctx context.Context, m Machine) (err error) {
	mb, remove, err := addMember(ctx, m)
	if err != nil {
		return err
	}
	mark := "ostal-check-" + randomHex(8)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, cerr := m.Run(cctx, "rm -rf /var/lib/ostal/files/"+mb.name+" /var/lib/radicale/collections/collection-root/"+mb.name); cerr != nil && err == nil {
			err = fmt.Errorf("remove the check's file and calendar: %w", cerr)
		}
		if rerr := remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	out, err := m.Run(ctx, "NAME="+mb.name+" MARK="+mark+" bash <<'OSTAL_PROBE'\n"+securityProbe+"OSTAL_PROBE\n")
	if err != nil {
		return fmt.Errorf("the probe did not run: %w\n%s", err, out)
	}
	return judgeSecurityProbe(m, out)
}

// judgeSecurityProbe reads securityProbe's output: every LEAK and BROKEN
// line is a failure, named.
func judgeSecurityProbe(m Machine, out string) error {
	var leaks, broken, errs []string
	attempts, done := 0, false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "USERS":
			m.Note("users: %s", rest)
		case "ok":
			attempts++
		case "LEAK":
			attempts++
			leaks = append(leaks, rest)
		case "BROKEN":
			attempts++
			broken = append(broken, rest)
		case "ERROR":
			errs = append(errs, rest)
		case "DONE":
			done = true
		}
	}
	var problems []string
	if len(errs) > 0 {
		problems = append(problems, "the probe could not run everything: "+strings.Join(errs, "; "))
	}
	if !done {
		problems = append(problems, "the probe stopped before its end")
	}
	if len(leaks) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d attempts succeeded that must fail (user service:what):\n  %s",
			len(leaks), attempts, strings.Join(leaks, "\n  ")))
	}
	if len(broken) > 0 {
		problems = append(problems, fmt.Sprintf("refused what the service needs:\n  %s", strings.Join(broken, "\n  ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	m.Note("%d attempts, all refused but each service's own", attempts)
	return nil
}
