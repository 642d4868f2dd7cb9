<?php
// The reference for tests/property/: Composer's own PHP (Debian's Composer 2.5.5), one request per line.
// In: {"op": "...", "in": ...}. Out: {"ok": ...} or {"error": "...", "fatal": bool} (fatal: a PHP \Error,
// which would end a composer run instead of skipping a ref). Warnings become exceptions, as in composer.

require '/usr/share/php/Composer/autoload.php';

use Composer\MetadataMinifier\MetadataMinifier;
use Composer\Package\Dumper\ArrayDumper;
use Composer\Package\Loader\ArrayLoader;
use Composer\Package\Loader\ValidatingArrayLoader;
use Composer\Repository\PlatformRepository;
use Composer\Semver\VersionParser;

Composer\Util\ErrorHandler::register();

/** A decoded JSON value with its PHP types spelled out (floats as their IEEE bytes, strings as hex). */
function typed($value)
{
    if (is_array($value)) {
        $items = [];
        foreach ($value as $key => $item) {
            $items[] = [(string) $key, typed($item)];
        }
        return ['arr', $items];
    }
    if (is_float($value)) {
        return ['float', bin2hex(pack('E', $value))];
    }
    if (is_string($value)) {
        return ['str', bin2hex($value)];
    }
    return [gettype($value), $value];
}

/** A loaded package as composer.lock would hold it. */
function dumped($package): array
{
    return (new ArrayDumper())->dump($package);
}

$parser = new VersionParser();
$loader = new ArrayLoader();
while (($line = fgets(STDIN)) !== false) {
    $request = json_decode($line, true);
    $in = $request['in'];
    try {
        switch ($request['op']) {
            case 'normalize':
                $out = ['ok' => $parser->normalize($in)];
                break;
            case 'branch':
                $out = ['ok' => $parser->normalizeBranch($in)];
                break;
            case 'stability':
                $out = ['ok' => VersionParser::parseStability($in)];
                break;
            case 'constraints':
                $out = ['ok' => (string) $parser->parseConstraints($in)];
                break;
            case 'name':
                $out = ['ok' => ValidatingArrayLoader::hasPackageNamingError($in), 'platform' => PlatformRepository::isPlatformPackage($in)];
                break;
            case 'json':
                $value = json_decode(base64_decode($in), true);
                if ($value === null && json_last_error() !== JSON_ERROR_NONE) {
                    $out = ['error' => json_last_error_msg()];
                } else {
                    // Values nested too deep for a JSON answer are compared by acceptance only.
                    $out = json_encode(typed($value), 0, 200) === false ? ['ok' => 'deep'] : ['ok' => typed($value)];
                }
                break;
            case 'minify':
                $minified = MetadataMinifier::minify($in);
                $out = ['ok' => typed($minified), 'expanded' => typed(MetadataMinifier::expand($minified))];
                break;
            case 'load':
                // The VCS repository's path (ArrayLoader::load on composer.json) ...
                try {
                    $vcs = ['ok' => dumped($loader->load($in['manifest']))];
                } catch (\Throwable $e) {
                    $vcs = ['error' => $e->getMessage(), 'fatal' => $e instanceof \Error];
                }
                // ... and a Composer repository's (ArrayLoader::loadPackages on what we would serve).
                $p2 = null;
                if ($in['served'] !== null) {
                    try {
                        $p2 = ['ok' => array_map('dumped', $loader->loadPackages([json_decode($in['served'], true)]))];
                    } catch (\Throwable $e) {
                        $p2 = ['error' => $e->getMessage(), 'fatal' => $e instanceof \Error];
                    }
                }
                $out = ['vcs' => $vcs, 'p2' => $p2];
                break;
            default:
                throw new \LogicException('unknown op ' . $request['op']);
        }
    } catch (\Throwable $e) {
        $out = ['error' => $e->getMessage(), 'fatal' => $e instanceof \Error];
    }
    $flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION | JSON_INVALID_UTF8_SUBSTITUTE;
    echo json_encode($out, $flags), "\n";
}
