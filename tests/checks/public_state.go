package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// publicFacts are, per service, a guest command printing what the public
// sees of its data, one "name<TAB>value" line each, read straight from
// the databases and folders as root (through no web server, so reading
// them writes nothing): the rows and files, and the counters that move
// when something is made and removed again (MediaWiki's log, HyperKitty's
// ids, folders' times). Caches a visit may fill (thumbnails, Radicale's
// cache, WordPress's upload folders) are left out: a reader may make them.
// WordPress's post ids are not counters (a post made and deleted for
// good leaves no trace in them); the post rows are compared.
var publicFacts = map[string]string{
	"www": `mariadb --protocol=socket -u root -N -B wordpress <<'SQL'
SET SESSION group_concat_max_len = 67108864;
SELECT 'www: posts, pages, revisions and attachments', CONCAT(COUNT(*), ' rows, digest ', COALESCE(LEFT(SHA1(GROUP_CONCAT(ID, ' ', post_type, ' ', post_status, ' ', post_modified_gmt ORDER BY ID)), 12), '-'))
  FROM wp_posts WHERE post_type IN ('post', 'page', 'revision', 'attachment');
SELECT 'www: comments', CONCAT(COUNT(*), ', last id ', COALESCE(MAX(comment_ID), 0)) FROM wp_comments;
SELECT 'www: users', CONCAT(COUNT(*), ', next id ', (SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'wordpress' AND TABLE_NAME = 'wp_users')) FROM wp_users;
SQL
l=$(cd /var/lib/wordpress/wp-content/uploads && find . -type f -printf '%p %s %T@\n')
printf 'www: uploaded files\t%s\n' "$(digest "$l")"`,

	"wiki": `mariadb --protocol=socket -u root -N -B wiki <<'SQL'
SELECT 'wiki: pages', CONCAT(COUNT(*), ', last id ', COALESCE(MAX(page_id), 0)) FROM page;
SELECT 'wiki: last revision', COALESCE(MAX(rev_id), 0) FROM revision;
SELECT 'wiki: last recent change', COALESCE(MAX(rc_id), 0) FROM recentchanges;
SELECT 'wiki: last log entry', COALESCE(MAX(log_id), 0) FROM logging;
SELECT 'wiki: files', COUNT(*) FROM image;
SELECT 'wiki: users', COUNT(*) FROM user;
SQL
l=$(cd /var/lib/mediawiki/images && find . \( -path ./thumb -o -path ./temp -o -path ./lockdir \) -prune -o -type f -printf '%p %s %T@\n')
printf 'wiki: uploaded files\t%s\n' "$(digest "$l")"`,

	"lists": `python3 - <<'PY'
import sqlite3

def rows(db, sql):
    c = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()

core, web = "/var/lib/mailman3/data/mailman.db", "/var/lib/mailman3/web/mailman3web.db"
print("lists: lists\t" + " ".join(sorted(r[0] for r in rows(core, "SELECT list_id FROM mailinglist"))))
print("lists: members\t%d" % rows(core, "SELECT COUNT(*) FROM member")[0][0])
print("lists: archived lists\t" + " ".join(sorted(r[0] for r in rows(web, "SELECT name FROM hyperkitty_mailinglist"))))
print("lists: archived messages\t%d" % rows(web, "SELECT COUNT(*) FROM hyperkitty_email")[0][0])
for name, seq in rows(web, "SELECT name, seq FROM sqlite_sequence WHERE name LIKE 'hyperkitty%' ORDER BY name"):
    print("lists: last id of %s\t%d" % (name, seq))
PY
printf "lists: bytes in root's mailbox\t%s\n" "$(stat -c %s /var/mail/root 2>/dev/null || echo none)"`,

	"files": `members
l=$(cd /var/lib/ostal/files && find . -path ./.upload -prune -o -printf '%p %s %T@\n')
printf 'files: folders and files\t%s\n' "$(digest "$l")"`,

	// Radicale writes its cache and lock files as it reads; folders
	// count by name, files by size and time.
	"dav": `members
l=$(cd /var/lib/radicale/collections && find . \( -name .Radicale.cache -o -name .Radicale.lock -o -name '.Radicale.tmp-*' \) -prune -o \( -type d -printf '%p/\n' \) -o -printf '%p %s %T@\n')
printf 'dav: collections and items\t%s\n' "$(digest "$l")"`,
}

// factsPrelude stops a facts command at its first failure (a listing's
// or a query's: it must not pass for an empty listing, the same before
// and after) and gives it digest, a short sha1 of a listing's sorted
// lines, and members, the members' names (never their hashes) from the
// password file, which ostal-member makes on its first run.
const factsPrelude = `set -e
digest() { printf '%s\n' "$1" | sort | sha1sum | cut -c1-12; }
members() {
	if [ -e /var/lib/ostal/members/htpasswd ]; then
		l=$(cut -d: -f1 /var/lib/ostal/members/htpasswd)
	else
		l="(no password file yet)"
	fi
	printf 'members\t%s\n' "$(printf '%s\n' "$l" | sort | tr '\n' ' ')"
}
`

// publicState is what the public sees of a machine: fact name → value.
type publicState map[string]string

// readPublicState reads the facts of the services the machine has.
func readPublicState(ctx context.Context, m Machine, services []string) (publicState, error) {
	st := publicState{}
	for _, svc := range slices.Sorted(slices.Values(services)) {
		cmd, ok := publicFacts[svc]
		if !ok {
			continue
		}
		out, err := m.Run(ctx, factsPrelude+cmd)
		if err != nil {
			return nil, fmt.Errorf("read what the public sees of %s: %w", svc, err)
		}
		if err := st.parse(out); err != nil {
			return nil, fmt.Errorf("read what the public sees of %s: %w", svc, err)
		}
	}
	return st, nil
}

// parse adds "name<TAB>value" lines.
func (st publicState) parse(out string) error {
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		name, value, ok := strings.Cut(line, "\t")
		if !ok || name == "" {
			return fmt.Errorf("the guest printed %q, expected a fact's name, a tab and its value", clip(line, 120))
		}
		st[name] = strings.TrimSpace(value)
	}
	return nil
}

// changes are the facts that differ from before to after, one line each,
// sorted.
func (before publicState) changes(after publicState) []string {
	var diff []string
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			diff = append(diff, fmt.Sprintf("%s: %q before, no longer read after", name, b))
		case a != b:
			diff = append(diff, fmt.Sprintf("%s: %q before, %q after", name, b, a))
		}
	}
	for name, a := range after {
		if _, ok := before[name]; !ok {
			diff = append(diff, fmt.Sprintf("%s: not read before, %q after", name, a))
		}
	}
	slices.Sort(diff)
	return diff
}
