# Staging: single-AZ database, small instances, short retention.
# Non-secret values only; secrets are generated in AWS (see ../../README.md).

aws_region  = "eu-central-1"
environment = "staging"

deletion_protection = false

vpc_cidr           = "10.20.0.0/16"
az_count           = 2
log_retention_days = 14

image_tag      = "v0.1.0"
task_cpu       = 256
task_memory    = 512
task_min_count = 1
task_max_count = 3

db_instance_class        = "db.t4g.micro"
db_shard_count           = 1
db_multi_az              = false
db_allocated_storage     = 20
db_max_allocated_storage = 50
db_backup_retention_days = 3
backup_retention_days    = 7

cache_node_type               = "cache.t4g.micro"
cache_replica_count           = 0
cache_snapshot_retention_days = 1

# The private entry (internal ALB) answers plain HTTP inside the VPC until
# private_entry_certificate_arn is set; browser logins need HTTPS (Secure
# cookies), the JSON API with Bearer tokens works either way.
edge_enabled = false

hello_log_level    = "debug"
hello_db_max_conns = 5
