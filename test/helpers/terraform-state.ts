/*
 * Terraform state files for the tests, written independently of src/: what a Terraform
 * client sends (format 4), with one terraform_data resource and one output.
 */

/** A Terraform state file of `lineage` at `serial`, with `extra` fields over the defaults. */
export function terraformState(
  lineage: string,
  serial: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: 4,
    terraform_version: '1.11.4',
    serial,
    lineage,
    outputs: { greeting: { value: 'hello', type: 'string' } },
    resources: [
      {
        mode: 'managed',
        type: 'terraform_data',
        name: 'a',
        provider: 'provider["terraform.io/builtin/terraform"]',
        instances: [
          { schema_version: 0, attributes: { id: 'b4dbfa99', input: null, output: null }, sensitive_attributes: [] },
        ],
      },
    ],
    check_results: null,
    ...extra,
  };
}
