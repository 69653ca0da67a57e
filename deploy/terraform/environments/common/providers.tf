# Credentials come from the standard AWS chain (environment, SSO profile,
# instance/role credentials); never from this configuration.
provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = "hello"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
