package checks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Schema stamps (provision/base/.../schema): each service that upgrades
// its data left the version it took them to on the data volume, as this
// image's packages say; www.schema also shows, on a stamp made newer for
// a moment, the refusal an older image makes: no upgrade code, the site
// down (503) and the reason in the health report.
func init() {
	Default.Register(Check{Name: "wiki.schema", Summary: "the data volume's schema stamp of the wiki is this image's MediaWiki version",
		Services: []string{"wiki"}, Run: func(ctx context.Context, m Machine) error { return checkStamp(ctx, m, "wiki") }})
	Default.Register(Check{Name: "lists.schema", Summary: "the data volume's schema stamp of the lists is this image's Mailman and Django packages",
		Services: []string{"lists"}, Run: func(ctx context.Context, m Machine) error { return checkStamp(ctx, m, "lists") }})
	Default.Register(Check{Name: "www.schema", Summary: "the schema stamp of www is this image's WordPress database version; on a newer stamp www stays down (503) and the health report says why",
		Services: []string{"www", "tls"}, Disruptive: true, Timeout: 3 * time.Minute, Run: checkWWWSchema,
		Writes: "a newer schema stamp for www for a moment: the site answers 503 until the stamp is put back"})
}

// stampWant is the guest's command printing what each service's stamp
// must hold.
var stampWant = map[string]string{
	"www":  `printf 'wordpress-db %s\n' "$(sed -n 's/^\$wp_db_version = \([0-9]*\);.*/\1/p' /usr/share/wordpress/wp-includes/version.php)"`,
	"wiki": `printf 'mediawiki %s\n' "$(sed -n "s/^define( 'MW_VERSION', '\([^']*\)' );.*/\1/p" /usr/share/mediawiki/includes/Defines.php)"`,
	"lists": `dpkg-query -W -f '${Package} ${Version}\n' mailman3 mailman3-web python3-django python3-django-hyperkitty ` +
		`python3-django-postorius python3-django-mailman3 python3-django-compressor python3-django-allauth ` +
		`python3-djangorestframework python3-django-extensions python3-django-q python3-django-gravatar2 ` +
		`python3-django-haystack python3-django-picklefield python3-django-appconf`,
}

func checkStamp(ctx context.Context, m Machine, svc string) error {
	want, err := m.Run(ctx, stampWant[svc])
	if err != nil {
		return err
	}
	have, err := m.Run(ctx, "cat /srv/data/.ostal-schema/"+svc)
	if err != nil {
		return fmt.Errorf("no schema stamp for %s on the data volume: %w", svc, err)
	}
	if strings.TrimSpace(want) == "" || strings.Contains(want, " \n") || have != want {
		return fmt.Errorf("/srv/data/.ostal-schema/%s holds %q; this image's versions are %q", svc, have, want)
	}
	m.Note("%s stamped %s", svc, strings.ReplaceAll(strings.TrimSpace(have), "\n", ", "))
	return nil
}

func checkWWWSchema(ctx context.Context, m Machine) error {
	if err := checkStamp(ctx, m, "www"); err != nil {
		return err
	}
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	host, err := site.Name("www")
	if err != nil {
		return err
	}
	const f = "/srv/data/.ostal-schema/www"
	// A newer stamp, as a newer image would leave it; the init must
	// refuse before touching the database.
	if _, err := m.Run(ctx, "cp -p "+f+" /run/ostal-www-schema.saved && printf 'wordpress-db 99999999\\n' >"+f); err != nil {
		return err
	}
	restore := func() error {
		_, err := m.Run(ctx, "mv -f /run/ostal-www-schema.saved "+f+" && systemctl restart ostal-www-init")
		return err
	}
	var problems []string
	if _, err := m.Run(ctx, "systemctl restart ostal-www-init"); err == nil {
		problems = append(problems, "ostal-www-init started on data stamped newer than its WordPress")
	}
	if j, _ := m.Run(ctx, "journalctl -u ostal-www-init -n 20 --no-pager -o cat"); !strings.Contains(j, "www stays down") || !strings.Contains(j, "--restore-data") {
		problems = append(problems, "the journal of ostal-www-init does not say why www stays down: "+clip(j, 300))
	}
	if h, _ := m.Run(ctx, "/usr/lib/ostal/health"); !strings.Contains(h, "FAIL www: www stays down: its data on the data volume were upgraded by a newer image (wordpress-db 99999999") {
		problems = append(problems, "the health report does not say why www is down: "+clip(h, 300))
	}
	if resp, err := WebClient(m).Get(SiteURL(m, host, "")); err != nil {
		problems = append(problems, "https://"+host+"/: "+err.Error())
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			problems = append(problems, fmt.Sprintf("https://%s/ answers %s, not 503, while www is kept down", host, resp.Status))
		}
	}
	if err := restore(); err != nil {
		problems = append(problems, "the stamp put back, ostal-www-init does not start again: "+err.Error())
	} else if h, _ := m.Run(ctx, "/usr/lib/ostal/health"); !strings.Contains(h, "ok www") {
		problems = append(problems, "the stamp put back, www is not healthy again: "+clip(h, 300))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
