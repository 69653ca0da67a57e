# Production: Multi-AZ, larger instances, more tasks, deletion protection,
# longer log and backup retention. Non-secret values only.

aws_region  = "eu-central-1"
environment = "production"

deletion_protection = true

vpc_cidr           = "10.30.0.0/16"
az_count           = 3
log_retention_days = 90

image_tag      = "v0.1.0"
task_cpu       = 1024
task_memory    = 2048
task_min_count = 3
task_max_count = 12

db_instance_class        = "db.m7g.large"
db_shard_count           = 2
db_multi_az              = true
db_allocated_storage     = 100
db_max_allocated_storage = 1000
db_backup_retention_days = 30
backup_retention_days    = 35
backup_copy_region       = "eu-west-1"

cache_node_type               = "cache.m7g.large"
cache_replica_count           = 1
cache_snapshot_retention_days = 7

secret_recovery_window_days = 30

# The private entry (internal ALB) serves HTTPS in production: set the ACM
# certificate of its host name before the first plan (validation stops the
# plan until then). The public edge stays off.
# private_entry_certificate_arn = "arn:aws:acm:eu-central-1:<account-id>:certificate/<id>"
edge_enabled = false

hello_log_level    = "info"
hello_db_max_conns = 10
