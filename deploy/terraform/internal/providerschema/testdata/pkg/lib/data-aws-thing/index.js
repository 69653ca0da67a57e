"use strict";
const cdktn = require("cdktn");
class DataAwsThing extends cdktn.TerraformDataSource {
    static [JSII_RTTI_SYMBOL_1] = { fqn: "@cdktn/provider-aws.dataAwsThing.DataAwsThing", version: "0.0.1" };
    // =================
    // STATIC PROPERTIES
    // =================
    static tfResourceType = "aws_thing";
    synthesizeHclAttributes() {
        const attrs = {
            name: {
                value: cdktn.stringToHclTerraform(this._name),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
        };
        return attrs;
    }
}
exports.DataAwsThing = DataAwsThing;
