import * as cdktn from 'cdktn';
export interface DataAwsThingConfig extends cdktn.TerraformMetaArguments {
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/data-sources/thing#name DataAwsThing#name}
    */
    readonly name?: string;
}
