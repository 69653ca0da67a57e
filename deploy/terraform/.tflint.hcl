# tflint configuration for deploy/terraform.
#
# Only the terraform ruleset is used. It is bundled inside the tflint binary,
# so no `tflint --init` and no plugin download is needed (the check script
# runs fully offline). The AWS ruleset is deliberately not enabled: it would
# have to be downloaded from GitHub.

config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

rule "terraform_documented_variables" {
  enabled = true
}

rule "terraform_documented_outputs" {
  enabled = true
}

rule "terraform_typed_variables" {
  enabled = true
}

rule "terraform_standard_module_structure" {
  enabled = true
}

rule "terraform_naming_convention" {
  enabled = true
}
