package builders

import "fmt"

// Artifact is a built image: the qcow2 and its manifest.
type Artifact struct {
	Image        string
	ManifestPath string
	Manifest     *Manifest
}

func (a *Artifact) BuilderId() string        { return BuilderID }
func (a *Artifact) Files() []string          { return []string{a.Image, a.ManifestPath} }
func (a *Artifact) Id() string               { return a.Manifest.Image.SHA256 }
func (a *Artifact) State(string) interface{} { return nil }
func (a *Artifact) Destroy() error           { return nil }
func (a *Artifact) String() string {
	return fmt.Sprintf("image %s (sha256 %s, %d bytes)", a.Image, a.Manifest.Image.SHA256, a.Manifest.Image.Size)
}
