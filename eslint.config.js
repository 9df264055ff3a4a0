// ESLint flat config: typescript-eslint strict-type-checked plus the layer rules of
// docs/architecture.md (imports point downwards only; cni/ and the shim use node:* alone).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Highest layer first. A layer may import only from layers after it.
const layers = ["cmd", "daemon", "install", "cli", "multus", "netattach", "devices", "k8s", "util", "cni"];

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
      "no-restricted-syntax": [
        "error",
        { selector: "MemberExpression[object.name='process'][property.name='exit']", message: "Only src/cmd/* may call process.exit." },
      ],
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
    files: ["src/cmd/**/*.ts", "scripts/**/*.ts", "test/**/*.ts", "bench/**/*.ts"],
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
