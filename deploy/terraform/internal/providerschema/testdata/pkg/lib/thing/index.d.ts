import * as cdktn from 'cdktn';
export interface ThingConfigA extends cdktn.TerraformMetaArguments {
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#name Thing#name}
    */
    readonly name: string;
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#port Thing#port}
    */
    readonly port?: number;
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#get_enabled Thing#get_enabled}
    *
    * A property whose TypeScript name differs from its Terraform name.
    */
    readonly fetchEnabled?: boolean | cdktn.IResolvable;
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#subnets Thing#subnets}
    */
    readonly subnets?: string[];
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#tags Thing#tags}
    */
    readonly tags?: { [key: string]: string };
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#deep Thing#deep}
    */
    readonly deep?: any;
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#action Thing#action}
    */
    readonly action: ThingAction[] | cdktn.IResolvable;
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#ingress Thing#ingress}
    */
    readonly ingress?: ThingIngress[] | cdktn.IResolvable;
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#timeouts Thing#timeouts}
    */
    readonly timeouts?: ThingTimeouts;
}
export interface ThingActionRedirect {
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#status_code Thing#status_code}
    */
    readonly statusCode: string;
}
export declare function thingActionRedirectToHclTerraform(struct?: ThingActionRedirectOutputReference | ThingActionRedirect): any;
export interface ThingAction {
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#type Thing#type}
    */
    readonly type: string;
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#redirect Thing#redirect}
    */
    readonly redirect?: ThingActionRedirect;
}
export declare function thingActionToHclTerraform(struct?: ThingAction | cdktn.IResolvable): any;
export interface ThingIngress {
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#from_port Thing#from_port}
    */
    readonly fromPort?: number;
}
export declare function thingIngressToHclTerraform(struct?: ThingIngress | cdktn.IResolvable): any;
export interface ThingTimeouts {
    /**
    * Docs at Terraform Registry: {@link https://registry.terraform.io/providers/hashicorp/aws/9.9.9/docs/resources/thing#create Thing#create}
    */
    readonly create?: string;
}
export declare function thingTimeoutsToHclTerraform(struct?: ThingTimeouts | cdktn.IResolvable): any;
