# utzqanil built by Packer with ostal's plugin (cmd/packer-plugin-ostal):
# the same spec and lock as `make image`, so, with the same cache, the
# same qcow2 byte for byte (README, "Building with Packer"). From the top
# of the clone:
#
#   make build/bin/packer-plugin-ostal
#   PACKER_PLUGIN_PATH=build/bin packer build images/utzqanil.pkr.hcl
#
# (Packer 1.10 and later: `packer plugins install --path
# build/bin/packer-plugin-ostal github.com/ostal/ostal` once instead.)
# Variables name another spec, output or cache: -var spec=... and so on.

variable "spec" {
  type    = string
  default = "images/utzqanil.yaml"
}

# Empty: the lock beside the spec (images/utzqanil.lock).
variable "lock" {
  type    = string
  default = ""
}

variable "output_dir" {
  type    = string
  default = "build"
}

# Empty: ostal's cache ($OSTAL_CACHE, else /var/cache/ostal for root).
variable "cache_dir" {
  type    = string
  default = ""
}

source "ostal" "image" {
  spec          = var.spec
  lock          = var.lock
  provision_dir = "provision"
  output_dir    = var.output_dir
  cache_dir     = var.cache_dir
}

build {
  sources = ["source.ostal.image"]

  # Packer's record of the build: the image's sha256 as artifact_id, and
  # its files (the qcow2 and ostal's manifest).
  post-processor "manifest" {
    output     = "${var.output_dir}/packer-manifest.json"
    strip_path = false
  }
  # The digest to publish beside the image.
  post-processor "checksum" {
    checksum_types      = ["sha256"]
    keep_input_artifact = true
    output              = "${var.output_dir}/{{.BuildName}}.{{.ChecksumType}}"
  }
}
