package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// wiki.main-page is the wiki's read-only proof of service, the one the
// deployer runs on production (wiki.edit and wiki.upload write): a
// visitor's GET of https://wiki.D/ goes through nginx, PHP-FPM and
// MediaWiki to the main page, rendered from its revision in MariaDB.
func init() {
	Default.Register(Check{Name: "wiki.main-page", Summary: "a visitor's https://wiki.D/ ends at the main page, rendered by MediaWiki from the database (the page id of the API's answer)",
		Timeout: 2 * time.Minute, Services: []string{"wiki", "tls"}, Run: checkWikiMainPage})
}

// wikiArticleID is the page id MediaWiki writes into every page's
// configuration for its scripts: 0 for a page that is not in the database.
var wikiArticleID = regexp.MustCompile(`"wgArticleId":\s*([0-9]+)`)

// wikiMainPage is what the API says of the main page.
type wikiMainPage struct {
	Query struct {
		General struct {
			MainPage  string `json:"mainpage"`
			Generator string `json:"generator"`
		} `json:"general"`
		Pages []struct {
			PageID    int    `json:"pageid"`
			Title     string `json:"title"`
			Missing   bool   `json:"missing"`
			LastRevID int    `json:"lastrevid"`
		} `json:"pages"`
	} `json:"query"`
}

func checkWikiMainPage(ctx context.Context, m Machine) error {
	host, err := siteName(ctx, m, "wiki")
	if err != nil {
		return err
	}
	// The main page's title is the wiki's (its language's) own.
	api := newWikiAPI(ctx, m, host)
	var info wikiMainPage
	if err := api.visitorQuery(url.Values{"meta": {"siteinfo"}, "siprop": {"general"}}, &info); err != nil {
		return err
	}
	main := info.Query.General.MainPage
	if main == "" || !strings.HasPrefix(info.Query.General.Generator, "MediaWiki") {
		return fmt.Errorf("api.php siteinfo names no main page (%q) or another generator (%q)", main, info.Query.General.Generator)
	}
	if err := api.visitorQuery(url.Values{"titles": {main}, "prop": {"info"}}, &info); err != nil {
		return err
	}
	if len(info.Query.Pages) != 1 || info.Query.Pages[0].Missing || info.Query.Pages[0].PageID == 0 {
		return fmt.Errorf("the main page %q is not in the wiki's database: the API gives %+v", main, info.Query.Pages)
	}
	page := info.Query.Pages[0]

	start := time.Now()
	front := SiteURL(m, host, "/")
	body, final, err := visit(ctx, m, front)
	if err != nil {
		return err
	}
	if u, err := url.Parse(final); err != nil || u.Scheme != "https" || !strings.EqualFold(u.Hostname(), host) {
		return fmt.Errorf("GET %s ended at %s, not on https://%s", front, final, host)
	}
	id := wikiArticleID.FindSubmatch(body)
	switch {
	case !strings.Contains(string(body), `content="MediaWiki`):
		return fmt.Errorf("GET %s (ended at %s): 200 but not a page MediaWiki made (no generator meta); it starts %q", front, final, clip(string(body), 200))
	case id == nil:
		return fmt.Errorf("GET %s (ended at %s): the page carries no wgArticleId", front, final)
	case string(id[1]) != fmt.Sprint(page.PageID):
		return fmt.Errorf("GET %s (ended at %s) shows the page id %s, expected the main page %q's %d", front, final, id[1], main, page.PageID)
	}
	m.Note("%s shows the main page %q (page %d, revision %d) in %.1f s", front, main, page.PageID, page.LastRevID, time.Since(start).Seconds())
	return nil
}

// visitorQuery is a GET of action=query, decoded into out: the shapes of
// answers wikiAnswer does not read.
func (w *wikiAPI) visitorQuery(params url.Values, out any) error {
	q := url.Values{"action": {"query"}, "format": {"json"}, "formatversion": {"2"}}
	for k, v := range params {
		q[k] = v
	}
	u := w.url + "?" + q.Encode()
	r, err := doWeb(w.ctx, w.client, webCall{Method: http.MethodGet, URL: u})
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("GET %s as a visitor: %s, expected 200", u, r)
	}
	var e wikiAnswer
	if err := json.Unmarshal(r.Body, &e); err != nil {
		return fmt.Errorf("GET %s: the answer is not JSON: %v; it starts %q", u, err, clip(string(r.Body), 120))
	}
	if err := e.err("GET " + u); err != nil {
		return err
	}
	return json.Unmarshal(r.Body, out)
}
