"""The Lambda runtime: one process per Lambda (as Greengrass ran long-lived Lambdas), supervised."""
