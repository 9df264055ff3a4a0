// ESLint flat config: typescript-eslint strict-type-checked plus the layer rules of
// docs/architecture.md (imports point downwards only; cni/ and the shim use node:* alone).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Highest layer first. A layer may import only from layers after it.
const layers = ["cmd", "daemon", "webhook", "install", "cli", "multus", "netattach", "devices", "k8s", "util", "cni"];

function layerRules(layer) {
  const above = layers.slice(0, layers.indexOf(layer));
  if (above.length === 0) return [];
  return [
    {
      files: [`src/${layer}/**/*.ts`],
      rules: {
        "no-restricted-imports": [
          "error",
          {
            patterns: [
              {
                group: above.map((l) => `**/${l}/*`),
                message: `src/${layer} is below ${above.join(", ")}: imports must point downwards (docs/architecture.md).`,
              },
            ],
          },
        ],
      },
    },
  ];
}

// Only src/cni/delegate-config.ts makes a DelegateConfig (the one gate every delegate config passes,
// docs/security.md), and only the engine's runner adapter hands one to the CNI runtime: nothing else in
// src/ may parse a config list for the runner, drive the runner itself, or cast to the type.
const processExit = { selector: "MemberExpression[object.name='process'][property.name='exit']", message: "Only src/cmd/* may call process.exit." };
const gateBypass = [
  {
    selector: "ImportDeclaration[source.value=/conflist-runner/] ImportSpecifier[imported.name=/^(parseNetworkConfigList|parseNetworkConfig|ConflistRunner)$/]",
    message: "Delegate configs reach the CNI runtime only through the gate (src/cni/delegate-config.ts) and src/multus/conflist-delegate-runner.ts.",
  },
  { selector: "TSAsExpression[typeAnnotation.typeName.name='DelegateConfig']", message: "A DelegateConfig is made by src/cni/delegate-config.ts only (admitDelegateConfig, restoreDelegateConfig), never by a cast." },
  { selector: "TSTypeAssertion[typeAnnotation.typeName.name='DelegateConfig']", message: "A DelegateConfig is made by src/cni/delegate-config.ts only, never by a cast." },
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "test/cluster/k8s-build/**", ".tmp/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-syntax": ["error", processExit, ...gateBypass],
    },
  },
  ...layers.flatMap(layerRules),
  {
    // cni/ is the protocol library: it depends on node:* only, so the shim can bundle it alone.
    files: ["src/cni/**/*.ts", "src/cmd/multus-shim.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ regex: "^(?!node:|\\./|\\.\\./cni/)", message: "src/cni and the shim import only node:* and src/cni." }] },
      ],
    },
  },
  {
    // The CNI library itself, and the one adapter from the engine to its runner.
    files: ["src/cni/**/*.ts", "src/multus/conflist-delegate-runner.ts"],
    rules: { "no-restricted-syntax": ["error", processExit] },
  },
  {
    files: ["src/cmd/**/*.ts"],
    rules: { "no-restricted-syntax": ["error", ...gateBypass] },
  },
  {
    // Tests drive the CNI runtime directly (the reference plugins' own tests) and build fixtures.
    files: ["scripts/**/*.ts", "test/**/*.ts", "bench/**/*.ts"],
    rules: { "no-restricted-syntax": "off" },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      // node:test's describe/it return promises that the runner awaits itself.
      "@typescript-eslint/no-floating-promises": ["error", { allowForKnownSafeCalls: [{ from: "package", name: ["test", "it", "describe", "suite"], package: "node:test" }] }],
    },
  },
  {
    files: ["eslint.config.js"],
    ...tseslint.configs.disableTypeChecked,
  },
);
