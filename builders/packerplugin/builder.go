// Package packerplugin is ostal's builder as Packer sees it: the builder
// block's schema, its decoding (Packer's own, with its template engine)
// and Run handing Packer's Ui to builders.Builder. Only
// cmd/packer-plugin-ostal imports it, so that ostal does not link Packer's
// SDK.
package packerplugin

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	"github.com/ostal/ostal/builders"
)

// Builder is a packersdk.Builder around builders.Builder.
type Builder struct {
	version, commit string
	b               builders.Builder
}

var _ packersdk.Builder = (*Builder)(nil)

// New is the plugin's builder; version and commit go into each manifest.
func New(version, commit string) *Builder {
	return &Builder{version: version, commit: commit}
}

// ConfigSpec is the builder block's schema.
func (p *Builder) ConfigSpec() hcldec.ObjectSpec { return blockSpec() }

// Prepare decodes the block and validates spec and lock, so that a bad
// spec or a stale lock fails before Packer starts any build.
func (p *Builder) Prepare(raws ...interface{}) ([]string, []string, error) {
	var c blockConfig
	if err := config.Decode(&c, &config.DecodeOpts{}, raws...); err != nil {
		return nil, nil, fmt.Errorf("builder configuration: %w", err)
	}
	c.Version, c.Commit = p.version, p.commit
	p.b = builders.Builder{Config: c.Config}
	return nil, nil, p.b.Prepare()
}

// Run builds the image, its progress on Packer's Ui.
func (p *Builder) Run(ctx context.Context, ui packersdk.Ui, _ packersdk.Hook) (packersdk.Artifact, error) {
	a, err := p.b.Build(ctx, ui)
	if err != nil {
		// A nil *Artifact would reach Packer as a non-nil interface.
		return nil, err
	}
	return a, nil
}
