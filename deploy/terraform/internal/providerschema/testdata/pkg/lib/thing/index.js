"use strict";
// A trimmed copy of the shape of a generated @cdktn/provider-aws module.
const cdktn = require("cdktn");
function thingActionRedirectToHclTerraform(struct) {
    const attrs = {
        status_code: {
            value: cdktn.stringToHclTerraform(struct.statusCode),
            isBlock: false,
            type: "simple",
            storageClassType: "string",
        },
    };
    return attrs;
}
exports.thingActionRedirectToHclTerraform = thingActionRedirectToHclTerraform;
function thingActionToHclTerraform(struct) {
    const attrs = {
        type: {
            value: cdktn.stringToHclTerraform(struct.type),
            isBlock: false,
            type: "simple",
            storageClassType: "string",
        },
        redirect: {
            value: thingActionRedirectToHclTerraform(struct.redirect),
            isBlock: true,
            type: "list",
            storageClassType: "ThingActionRedirectList",
        },
    };
    return attrs;
}
exports.thingActionToHclTerraform = thingActionToHclTerraform;
function thingIngressToHclTerraform(struct) {
    const attrs = {
        from_port: {
            value: cdktn.numberToHclTerraform(struct.fromPort),
            isBlock: false,
            type: "simple",
            storageClassType: "number",
        },
    };
    return attrs;
}
exports.thingIngressToHclTerraform = thingIngressToHclTerraform;
function thingTimeoutsToHclTerraform(struct) {
    const attrs = {
        create: {
            value: cdktn.stringToHclTerraform(struct.create),
            isBlock: false,
            type: "simple",
            storageClassType: "string",
        },
    };
    return attrs;
}
exports.thingTimeoutsToHclTerraform = thingTimeoutsToHclTerraform;
class ThingTimeoutsOutputReference extends cdktn.ComplexObject {
}
class Thing extends cdktn.TerraformResource {
    static [JSII_RTTI_SYMBOL_1] = { fqn: "@cdktn/provider-aws.thing.Thing", version: "0.0.1" };
    // =================
    // STATIC PROPERTIES
    // =================
    static tfResourceType = "aws_thing";
    synthesizeAttributes() {
        return {};
    }
    synthesizeHclAttributes() {
        const attrs = {
            name: {
                value: cdktn.stringToHclTerraform(this._name),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
            port: {
                value: cdktn.numberToHclTerraform(this._port),
                isBlock: false,
                type: "simple",
                storageClassType: "number",
            },
            get_enabled: {
                value: cdktn.booleanToHclTerraform(this._getEnabled),
                isBlock: false,
                type: "simple",
                storageClassType: "boolean",
            },
            subnets: {
                value: cdktn.listMapperHcl(cdktn.stringToHclTerraform, false)(this._subnets),
                isBlock: false,
                type: "set",
                storageClassType: "stringList",
            },
            tags: {
                value: cdktn.hashMapperHcl(cdktn.stringToHclTerraform)(this._tags),
                isBlock: false,
                type: "map",
                storageClassType: "stringMap",
            },
            deep: {
                value: cdktn.anyToHclTerraform(this._deep),
                isBlock: false,
                type: "simple",
                storageClassType: "any",
            },
            action: {
                value: cdktn.listMapperHcl(thingActionToHclTerraform, true)(this._action.internalValue),
                isBlock: true,
                type: "list",
                storageClassType: "ThingActionList",
            },
            ingress: {
                value: cdktn.listMapperHcl(thingIngressToHclTerraform, false)(this._ingress.internalValue),
                isBlock: true,
                type: "set",
                storageClassType: "ThingIngressList",
            },
            timeouts: {
                value: thingTimeoutsToHclTerraform(this._timeouts.internalValue),
                isBlock: true,
                type: "struct",
                storageClassType: "ThingTimeouts",
            },
        };
        return attrs;
    }
}
exports.Thing = Thing;
