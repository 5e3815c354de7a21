package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// www.front-page is WordPress's read-only proof of service, the one the
// deployer runs on production (www.post and www.no-author-email publish):
// visitors get the front page at www.D and at D, through nginx, PHP-FPM
// and WordPress, with the site's name from its options in MariaDB, and
// the REST API counts the published posts.
func init() {
	Default.Register(Check{Name: "www.front-page", Summary: "a visitor gets the front page at www.D and at D over HTTPS, made by WordPress with the site's name from the database; the REST API counts the posts",
		Timeout: 2 * time.Minute, Services: []string{"www", "tls"}, Run: checkWWWFrontPage})
}

func checkWWWFrontPage(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	host, err := site.Name("www")
	if err != nil {
		return err
	}
	apex, err := site.Name("apex")
	if err != nil {
		return err
	}
	// The REST API's index carries the options a visitor may read.
	root := SiteURL(m, host, "wp-json/")
	r, err := doWeb(ctx, WebClient(m), webCall{Method: http.MethodGet, URL: root})
	if err != nil {
		return err
	}
	var index struct {
		Name string `json:"name"`
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("GET %s as a visitor: %s, expected 200", root, r)
	}
	if err := json.Unmarshal(r.Body, &index); err != nil || index.Name == "" {
		return fmt.Errorf("GET %s: not WordPress's REST index with the site's name (%v); it starts %q", root, err, clip(string(r.Body), 120))
	}
	name := html.UnescapeString(index.Name) // as the page shows it, unescaped too
	posts := SiteURL(m, host, "wp-json/wp/v2/posts?per_page=1&_fields=id")
	if r, err = doWeb(ctx, WebClient(m), webCall{Method: http.MethodGet, URL: posts}); err != nil {
		return err
	}
	total, err := strconv.Atoi(r.Header.Get("X-WP-Total"))
	if r.Status != http.StatusOK || err != nil {
		return fmt.Errorf("GET %s as a visitor: %s with X-WP-Total %q, expected 200 and the number of posts", posts, r, r.Header.Get("X-WP-Total"))
	}

	for _, h := range []string{host, apex} {
		start := time.Now()
		front := SiteURL(m, h, "/")
		body, final, err := visit(ctx, m, front)
		if err != nil {
			return err
		}
		if u, err := url.Parse(final); err != nil || u.Scheme != "https" {
			return fmt.Errorf("GET %s ended at %s, not at an https address", front, final)
		}
		text := html.UnescapeString(string(body))
		// Every page WordPress makes announces its REST API.
		if !strings.Contains(text, `rel="https://api.w.org/"`) {
			return fmt.Errorf("GET %s (ended at %s): 200 but not a page WordPress made (no REST API link); it starts %q", front, final, clip(text, 200))
		}
		if !strings.Contains(text, name) {
			return fmt.Errorf("GET %s (ended at %s): the front page does not show the site's name %q", front, final, name)
		}
		m.Note("%s (at %s) shows %q in %.1f s", front, final, name, time.Since(start).Seconds())
	}
	m.Note("%d published posts", total)
	return nil
}
