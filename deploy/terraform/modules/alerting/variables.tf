variable "name" {
  type        = string
  description = "Name prefix of the topic and its key, e.g. hello-staging."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "email_addresses" {
  type        = list(string)
  description = "Addresses subscribed to the alarm topic (each confirms by e-mail); empty: subscribe a pager or chat integration yourself."
  default     = []

  validation {
    condition     = alltrue([for a in var.email_addresses : can(regex("^[^@ ]+@[^@ ]+$", a))])
    error_message = "email_addresses must be e-mail addresses."
  }
}
