package images

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// DebChangelog is what a .deb says about its own history: the entries of
// /usr/share/doc/PKG/changelog.Debian.gz (and of changelog.Debian.ARCH.gz,
// a binNMU's), or, when the package's doc folder is a link to another
// package's, the name of that package (whose .deb holds the changelog).
type DebChangelog struct {
	Entries []ChangelogEntry
	DocLink string
}

// ReadDebChangelog reads the changelog of package name from the .deb at
// file, without dpkg: a .deb is an ar archive whose data.tar.* member holds
// the files.
func ReadDebChangelog(file, name string) (*DebChangelog, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := debDataTar(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	doc := "usr/share/doc/" + name
	out := &DebChangelog{}
	// A native package (no Debian revision) has only changelog.gz, which
	// is then the Debian changelog; otherwise changelog.gz is upstream's.
	var native []ChangelogEntry
	tr := tar.NewReader(data)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: data: %w", file, err)
		}
		p := strings.TrimPrefix(path.Clean(h.Name), "./")
		base := path.Base(p)
		switch {
		case p == doc && h.Typeflag == tar.TypeSymlink:
			out.DocLink = path.Base(h.Linkname)
		case path.Dir(p) != doc || h.Typeflag != tar.TypeReg:
		case base == "changelog.gz":
			if native, err = readGzipChangelog(tr); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, p, err)
			}
		case strings.HasPrefix(base, "changelog.Debian.") && strings.HasSuffix(base, ".gz"):
			entries, err := readGzipChangelog(tr)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, p, err)
			}
			out.Entries = append(out.Entries, entries...)
		}
	}
	if len(out.Entries) == 0 {
		out.Entries = native
	}
	return out, nil
}

func readGzipChangelog(r io.Reader) ([]ChangelogEntry, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	text, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, err
	}
	return ParseChangelog(text), nil
}

// debDataTar finds the data member of a .deb and returns its uncompressed
// tar stream.
func debDataTar(r io.Reader) (io.Reader, error) {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, fmt.Errorf("not a .deb (no ar header)")
	}
	for {
		hdr := make([]byte, 60)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, fmt.Errorf("no data.tar member")
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad ar member size %q", hdr[48:58])
		}
		if strings.HasPrefix(name, "data.tar") {
			return decompress(name, io.LimitReader(r, size))
		}
		if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
			return nil, fmt.Errorf("truncated ar member %s", name)
		}
	}
}

func decompress(name string, r io.Reader) (io.Reader, error) {
	switch path.Ext(name) {
	case ".xz":
		return xz.NewReader(r)
	case ".zst":
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case ".gz":
		return gzip.NewReader(r)
	case ".tar":
		return r, nil
	}
	return nil, fmt.Errorf("data member %s: unknown compression", name)
}
