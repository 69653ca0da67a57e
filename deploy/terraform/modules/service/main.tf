# ECS on Fargate for hello: cluster, ECR repository, the service's task
# definition (hello serve + a CloudWatch agent sidecar scraping /metrics),
# a one-off admin task definition (hello migrate, hello shards ...), target-
# tracking autoscaling, logs, alarms and the HELLO_SECRET signing key.
#
# Secrets reach the containers only through the task definitions' `secrets`
# lists (valueFrom = secret ARN[:json-key::]). Each task definition has its
# own execution role that may read exactly its secret ARNs and decrypt with
# exactly the listed KMS keys, through Secrets Manager only. The service
# never sees the database master passwords: it connects with IAM database
# authentication (its task role may rds-db:connect as the application user);
# only the admin task gets the master secrets.

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  region         = data.aws_region.current.region
  account_id     = data.aws_caller_identity.current.account_id
  partition      = data.aws_partition.current.partition
  container_name = "hello"
  app_port       = 8080
  admin_port     = 9090
  log_group_name = "/ecs/${var.name}"
  # EMF records written by the CloudWatch agent; CloudWatch turns them into
  # metrics in metrics_namespace.
  metrics_log_group_name = "/ecs/${var.name}/metrics"
  image                  = "${aws_ecr_repository.this.repository_url}:${var.image_tag}"

  # The CloudWatch agent image comes through an ECR pull-through cache of
  # ECR Public: the tasks have no internet route, only the ECR endpoints.
  pull_through_prefix = "${var.name}-ecr-public"
  agent_image         = "${local.account_id}.dkr.ecr.${local.region}.amazonaws.com/${local.pull_through_prefix}/cloudwatch-agent/cloudwatch-agent:${var.cloudwatch_agent_image_tag}"

  hello_secret = {
    HELLO_SECRET = {
      secret_arn = aws_secretsmanager_secret.hello_secret.arn
      json_key   = null
    }
  }
  # HELLO_SECRET is created here; the caller adds the cache (serve) and the
  # database master (admin) secrets.
  serve_secrets = merge(var.secrets, local.hello_secret)
  admin_secrets = merge(var.admin_secrets, local.hello_secret)

  # AWS_REGION: the service signs RDS IAM tokens for this region.
  serve_environment = [
    for k, v in merge(var.environment, {
      HELLO_ADDR = ":${local.app_port}"
      # Only the sidecar in the same task scrapes /metrics: loopback only.
      HELLO_ADMIN_ADDR = "127.0.0.1:${local.admin_port}"
      AWS_REGION       = local.region
    }) : { name = k, value = v }
  ]
  admin_environment = [
    for k, v in merge(var.admin_environment, { HELLO_ADMIN_ADDR = "", AWS_REGION = local.region }) :
    { name = k, value = v }
  ]

  container_secrets = {
    for task, secrets in { serve = local.serve_secrets, admin = local.admin_secrets } : task => [
      for k, s in secrets : {
        name      = k
        valueFrom = s.json_key == null ? s.secret_arn : "${s.secret_arn}:${s.json_key}::"
      }
    ]
  }

  readable_secret_arns = {
    serve = sort(distinct([for s in values(local.serve_secrets) : s.secret_arn]))
    admin = sort(distinct([for s in values(local.admin_secrets) : s.secret_arn]))
  }
  decrypt_key_arns = {
    serve = sort(distinct(concat([aws_kms_key.this.arn], var.secret_kms_key_arns)))
    admin = sort(distinct(concat([aws_kms_key.this.arn], var.admin_secret_kms_key_arns)))
  }

  # CloudWatch agent: scrape hello's /metrics over loopback once a minute and
  # publish the login metrics the alarms below watch.
  prometheus_config = yamlencode({
    global = { scrape_interval = "1m", scrape_timeout = "10s" }
    scrape_configs = [{
      job_name = "hello"
      static_configs = [{
        targets = ["127.0.0.1:${local.admin_port}"]
        labels  = { ClusterName = var.name, ServiceName = var.name }
      }]
    }]
  })
  cloudwatch_agent_config = jsonencode({
    agent = { region = local.region }
    logs = {
      force_flush_interval = 15
      metrics_collected = {
        prometheus = {
          cluster_name           = var.name
          log_group_name         = local.metrics_log_group_name
          prometheus_config_path = "env:PROMETHEUS_CONFIG_CONTENT"
          emf_processor = {
            metric_declaration_dedup = true
            metric_namespace         = var.metrics_namespace
            metric_declaration = [
              {
                source_labels    = ["job"]
                label_matcher    = "^hello$"
                dimensions       = [["ClusterName", "ServiceName"]]
                metric_selectors = ["^hello_guard_lockouts_total$"]
              },
              {
                source_labels    = ["job"]
                label_matcher    = "^hello$"
                dimensions       = [["ClusterName", "ServiceName", "outcome"]]
                metric_selectors = ["^hello_guard_login_outcomes_total$", "^hello_logins_total$"]
              },
            ]
          }
        }
      }
    }
  })

  # The login alarms: metric name, dimensions beyond the service, threshold.
  login_alarms = {
    failed-logins = {
      metric      = "hello_guard_login_outcomes_total"
      dimensions  = { outcome = "failure" }
      threshold   = var.failed_logins_alarm_per_5m
      description = "more than ${var.failed_logins_alarm_per_5m} failed logins in 5 minutes across the service: credential stuffing or password spraying"
    }
    lockouts = {
      metric      = "hello_guard_lockouts_total"
      dimensions  = {}
      threshold   = var.lockouts_alarm_per_5m
      description = "more than ${var.lockouts_alarm_per_5m} names or devices locked out in 5 minutes: a dictionary attack on many accounts"
    }
  }
}

# --- Registry --------------------------------------------------------------

resource "aws_ecr_repository" "this" {
  name                 = var.ecr_repository_name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.this.arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the newest ${var.image_retention_count} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.image_retention_count
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_ecr_pull_through_cache_rule" "ecr_public" {
  ecr_repository_prefix = local.pull_through_prefix
  upstream_registry_url = "public.ecr.aws"
}

# --- Encryption key for the app secret, logs and images ----------------------

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" is this key

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogs"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"] # in a key policy, "*" is this key

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.metrics_log_group_name}",
      ]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: HELLO_SECRET, container logs, metrics and ECR images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-service"
  target_key_id = aws_kms_key.this.key_id
}

# --- HELLO_SECRET: generated ephemerally, stored write-only -----------------

ephemeral "random_password" "hello_secret" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "hello_secret" {
  name                    = "${var.name}/hello-secret"
  description             = "HELLO_SECRET signing/encryption key of ${var.name}"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "hello_secret" {
  secret_id                = aws_secretsmanager_secret.hello_secret.id
  secret_string_wo         = ephemeral.random_password.hello_secret.result
  secret_string_wo_version = var.hello_secret_version
}

# --- Logs ------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_group" "metrics" {
  name              = local.metrics_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

# --- Cluster ---------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# --- IAM -------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each = toset(["serve", "admin"])

  name               = each.key == "serve" ? "${var.name}-task-execution" : "${var.name}-admin-execution"
  description        = "ECS agent for the ${each.key} task: pull the images, write logs, read the ${each.key} secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# What both execution roles need: the hello image and the log group.
data "aws_iam_policy_document" "execution_common" {
  statement {
    sid = "EcrAuth"
    # GetAuthorizationToken has no resource-level permissions.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.this.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

data "aws_iam_policy_document" "execution_serve" {
  source_policy_documents = [data.aws_iam_policy_document.execution_common.json]

  statement {
    # The first pull of the agent image creates its cache repository.
    sid = "EcrPullThroughCache"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:BatchImportUpstreamImage",
      "ecr:CreateRepository",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = ["arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${local.pull_through_prefix}/*"]
  }

  statement {
    sid       = "ReadExactlyTheServeSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.readable_secret_arns["serve"]
  }

  statement {
    sid       = "DecryptTheServeSecrets"
    actions   = ["kms:Decrypt"]
    resources = local.decrypt_key_arns["serve"]

    # Only as Secrets Manager decrypts a secret for this role, never a
    # direct Decrypt of anything else encrypted with these keys.
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "execution_admin" {
  source_policy_documents = [data.aws_iam_policy_document.execution_common.json]

  statement {
    sid       = "ReadExactlyTheAdminSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.readable_secret_arns["admin"]
  }

  statement {
    sid       = "DecryptTheAdminSecrets"
    actions   = ["kms:Decrypt"]
    resources = local.decrypt_key_arns["admin"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = {
    serve = data.aws_iam_policy_document.execution_serve.json
    admin = data.aws_iam_policy_document.execution_admin.json
  }

  name   = "hello-${each.key}-execution"
  role   = aws_iam_role.execution[each.key].id
  policy = each.value
}

# The service's task role: connect to the shards as the application user
# (IAM database authentication) and let the sidecar write its metrics.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "hello serve: rds-db:connect as the application user, metrics"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ConnectAsTheApplicationUser"
    actions   = ["rds-db:connect"]
    resources = var.rds_iam_connect_arns
  }

  statement {
    # The agent writes EMF records to its (pre-created) log group.
    sid = "AgentMetrics"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = [aws_cloudwatch_log_group.metrics.arn, "${aws_cloudwatch_log_group.metrics.arn}:*"]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "hello-serve"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# Admin commands use the master password from their secrets: no AWS API.
resource "aws_iam_role" "admin_task" {
  name               = "${var.name}-admin-task"
  description        = "hello admin commands (migrate, shards): no AWS permissions"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# --- Task definitions ------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution["serve"].arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name                   = local.container_name
      image                  = local.image
      essential              = true
      command                = ["serve"]
      readonlyRootFilesystem = true
      stopTimeout            = var.stop_timeout_seconds

      portMappings = [
        { name = "http", containerPort = local.app_port, protocol = "tcp" },
      ]

      environment = local.serve_environment
      secrets     = local.container_secrets["serve"]

      healthCheck = {
        command     = ["CMD", "/hello", "healthcheck"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "hello"
        }
      }
    },
    {
      name                   = "cloudwatch-agent"
      image                  = local.agent_image
      essential              = false # losing metrics must not stop the service
      readonlyRootFilesystem = false # the agent writes its translated config

      environment = [
        { name = "CW_CONFIG_CONTENT", value = local.cloudwatch_agent_config },
        { name = "PROMETHEUS_CONFIG_CONTENT", value = local.prometheus_config },
      ]

      dependsOn = [{ containerName = local.container_name, condition = "START" }]

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "cloudwatch-agent"
        }
      }
    },
  ])
}

# One-off tasks (never a service): `hello migrate` by default, any admin
# command by a command override. It carries the master secrets and the
# admin DSNs; it runs in the service's subnets and security group.
resource "aws_ecs_task_definition" "admin" {
  family                   = "${var.name}-admin"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.admin_cpu
  memory                   = var.admin_memory
  execution_role_arn       = aws_iam_role.execution["admin"].arn
  task_role_arn            = aws_iam_role.admin_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name                   = local.container_name
    image                  = local.image
    essential              = true
    command                = ["migrate"]
    readonlyRootFilesystem = true

    environment = local.admin_environment
    secrets     = local.container_secrets["admin"]

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "admin"
      }
    }
  }])
}

# --- Network access --------------------------------------------------------

resource "aws_security_group" "this" {
  name        = "${var.name}-service"
  description = "hello tasks: 8080 from the load balancers (and allowed_cidr_blocks)"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "app_from_cidr" {
  for_each = toset(var.allowed_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "hello HTTP from ${each.key}"
  cidr_ipv4         = each.key
  ip_protocol       = "tcp"
  from_port         = local.app_port
  to_port           = local.app_port
}

resource "aws_vpc_security_group_ingress_rule" "app_from_lb" {
  for_each = var.load_balancers

  security_group_id            = aws_security_group.this.id
  description                  = "hello HTTP from the ${each.key} load balancer"
  referenced_security_group_id = each.value.security_group_id
  ip_protocol                  = "tcp"
  from_port                    = local.app_port
  to_port                      = local.app_port
}

resource "aws_vpc_security_group_egress_rule" "vpc" {
  for_each = {
    https    = 443
    postgres = 5432
    redis    = 6379
  }

  security_group_id = aws_security_group.this.id
  description       = "${each.key} inside the VPC (endpoints, databases, cache)"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  security_group_id = aws_security_group.this.id
  description       = "ECR image layers through the S3 gateway endpoint"
  prefix_list_id    = var.s3_prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# --- Service ---------------------------------------------------------------

resource "aws_ecs_service" "this" {
  name             = var.name
  cluster          = aws_ecs_cluster.this.id
  task_definition  = aws_ecs_task_definition.this.arn
  desired_count    = var.desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = length(var.load_balancers) == 0 ? null : 30
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  wait_for_steady_state              = var.wait_for_steady_state

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = var.load_balancers

    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = local.container_name
      container_port   = local.app_port
    }
  }

  lifecycle {
    # Autoscaling owns the running count after the first apply.
    ignore_changes = [desired_count]
  }

  depends_on = [aws_iam_role_policy.execution, aws_iam_role_policy.task]
}

# --- Autoscaling -----------------------------------------------------------

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "memory" {
  name               = "${var.name}-memory"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.memory_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageMemoryUtilization"
    }
  }
}

# --- Alarms ----------------------------------------------------------------

# Fewer tasks running than ECS wants, for 10 minutes: crashing or unhealthy
# tasks, or Fargate capacity. (Container Insights publishes both counts.)
resource "aws_cloudwatch_metric_alarm" "running_tasks" {
  alarm_name          = "${var.name}-running-below-desired"
  alarm_description   = "${var.name}: fewer tasks running than desired for 10 minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "tasks missing"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      period      = 60
      stat        = "Average"
      dimensions  = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this.name }
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      period      = 60
      stat        = "Average"
      dimensions  = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this.name }
    }
  }
}

# hello's own login metrics, scraped by the sidecar (see prometheus_config).
resource "aws_cloudwatch_metric_alarm" "login" {
  for_each = local.login_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${var.name}: ${each.value.description}."
  namespace           = var.metrics_namespace
  metric_name         = each.value.metric
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  dimensions          = merge({ ClusterName = var.name, ServiceName = var.name }, each.value.dimensions)
}
