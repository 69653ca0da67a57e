# State lives in S3 with native S3 locking (no DynamoDB table). The bucket
# and its region are supplied at init time:
#   terraform init -backend-config="bucket=<state-bucket>" -backend-config="region=<region>"
terraform {
  backend "s3" {
    key          = "hello/production/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
